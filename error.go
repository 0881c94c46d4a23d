package parley

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the stable, documented part of every error that
// reaches a client (see docs/PROTOCOL.md); each transport maps them to its own
// wire form (an error frame, an HTTP status, a close code) in one place.
const (
	EBadJSON          = "bad_json"          // the frame is not a JSON object
	EUnknownType      = "unknown_type"      // the command type is not known
	EMissingField     = "missing_field"     // a required field is absent or empty
	EInvalid          = "invalid"           // a field has a value that is not allowed
	ETooLarge         = "too_large"         // a frame or a text is over its limit
	ERateLimited      = "rate_limited"      // too many commands; RetryAfter says when to retry
	ENotAuthenticated = "not_authenticated" // the command needs a hello first
	EAlreadyHello     = "already_authenticated"
	ENicknameTaken    = "nickname_taken" // the nickname is held by someone else
	EBadToken         = "bad_token"      // the session token is unknown or expired
	EUnauthorized     = "unauthorized"   // missing or wrong credentials (admin API)
	EForbidden        = "forbidden"      // not allowed for these credentials or this origin
	ENotJoined        = "not_joined"     // the command needs membership of the room
	EUnknownUser      = "unknown_user"   // no user has this nickname
	ENotFound         = "not_found"      // the room, message or resource does not exist
	ELoginRequired    = "login_required" // the nickname is registered: log in with its password
	EBanned           = "banned"         // a ban keeps this person, nickname or address out; the message says until when
	EKicked           = "kicked"         // a moderator ended the session (it may reconnect)
	EMuted            = "muted"          // a moderator muted the sender in this room; the message says until when
	EUnavailable      = "unavailable"    // overloaded or shutting down; retry later
	EInternal         = "internal"       // a bug or an unexpected failure; details are logged, not sent
)

// Error is a failure with a code a client can act on and a message a person
// can read. Messages never contain internal details; wrap the cause with
// fmt.Errorf and let ErrorCode/ErrorMessage find the *Error inside.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when positive, is how long the client should wait before
	// retrying (ERateLimited, EUnavailable).
	RetryAfter time.Duration
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("parley error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error inside err, EInternal for any other
// error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorMessage returns the message of the *Error inside err, or a generic
// message for any other error, so internal details never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}

// ErrorRetryAfter returns the RetryAfter of the *Error inside err, or 0.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
