// Package httperr maps parley error codes to HTTP statuses and writes
// errors as JSON bodies: the one place where an error becomes HTTP.
package httperr

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/parley-chat/parley"
)

var statuses = map[string]int{
	parley.EBadJSON:          http.StatusBadRequest,
	parley.EUnknownType:      http.StatusBadRequest,
	parley.EMissingField:     http.StatusBadRequest,
	parley.EInvalid:          http.StatusBadRequest,
	parley.ETooLarge:         http.StatusRequestEntityTooLarge,
	parley.ERateLimited:      http.StatusTooManyRequests,
	parley.ENotAuthenticated: http.StatusUnauthorized,
	parley.EBadToken:         http.StatusUnauthorized,
	parley.EUnauthorized:     http.StatusUnauthorized,
	parley.EForbidden:        http.StatusForbidden,
	parley.ENicknameTaken:    http.StatusConflict,
	parley.EAlreadyHello:     http.StatusConflict,
	parley.ENotJoined:        http.StatusForbidden,
	parley.EUnknownUser:      http.StatusNotFound,
	parley.ENotFound:         http.StatusNotFound,
	parley.ELoginRequired:    http.StatusUnauthorized,
	parley.EBanned:           http.StatusForbidden,
	parley.EKicked:           http.StatusForbidden,
	parley.EMuted:            http.StatusForbidden,
	parley.EUnavailable:      http.StatusServiceUnavailable,
	parley.EInternal:         http.StatusInternalServerError,
}

// Status returns the HTTP status for an error code.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Body is the JSON shape of an error response.
type Body struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Write writes err as a JSON error response with its status, and a
// Retry-After header when the error has one.
func Write(w http.ResponseWriter, err error) {
	var b Body
	b.Error.Code, b.Error.Message = parley.ErrorCode(err), parley.ErrorMessage(err)
	if d := parley.ErrorRetryAfter(err); d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+999_999_999)/1e9)))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(Status(b.Error.Code))
	_ = json.NewEncoder(w).Encode(&b)
}
