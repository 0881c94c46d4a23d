// Package password hashes and checks passwords with argon2id
// (golang.org/x/crypto/argon2), kept as PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// salt and hash in unpadded standard base64, as the PHC format and the
// reference implementation write them. Hashing is deliberately costly
// (Default: 19 MiB and two passes, OWASP's recommendation), so at most
// GOMAXPROCS hashes run at once in the process: a burst of logins waits
// for a turn instead of taking every core and all the memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
}

// Default is OWASP's recommendation for argon2id: m=19456 KiB (19 MiB),
// t=2, p=1.
var Default = Params{Memory: 19456, Time: 2, Threads: 1}

// orDefault returns p, or Default if p is the zero Params.
func (p Params) orDefault() Params {
	if p == (Params{}) {
		return Default
	}
	return p
}

const (
	saltLen = 16 // bytes
	keyLen  = 32 // bytes
	// Limits on the parameters of a stored hash: Verify refuses hashes
	// that would take more than this (a corrupted or planted row must not
	// take the server's memory).
	maxMemory  = 1 << 21 // KiB: 2 GiB
	maxTime    = 64
	maxThreads = 64
)

// ErrMalformed is returned (wrapped) by Verify and NeedsRehash for a
// string that is not an argon2id PHC string this package can check.
var ErrMalformed = errors.New("password: not an argon2id PHC string")

// sem bounds the hashes running at once.
var sem = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// acquire waits for a turn to hash, or for ctx.
func acquire(ctx context.Context) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("password: wait for a turn to hash: %w", ctx.Err())
	}
}

func release() { <-sem }

// Hash returns the PHC string of password hashed with p (the zero Params:
// Default) and a new random salt. It waits for a turn (see the package
// comment) until ctx ends.
func Hash(ctx context.Context, password string, p Params) (string, error) {
	p = p.orDefault()
	if p.Memory < 8*uint32(max(p.Threads, 1)) || p.Time < 1 || p.Threads < 1 {
		return "", fmt.Errorf("password: invalid parameters m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads)
	}
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand documents it)
	if err := acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	release()
	return encode(p, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded,
// comparing in constant time. A string it cannot read is an error
// (ErrMalformed), never a match. It waits for a turn like Hash.
func Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, err
	}
	if err := acquire(ctx); err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	release()
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than
// p (the zero Params: Default), or is not an argon2id PHC string: after a
// successful Verify the caller should store a new Hash of the password.
func NeedsRehash(encoded string, p Params) bool {
	have, salt, key, err := decode(encoded)
	return err != nil || have != p.orDefault() || len(salt) != saltLen || len(key) != keyLen
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// decode reads a PHC string: "", "argon2id", "v=19", "m=…,t=…,p=…", salt,
// hash.
func decode(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformed
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: version %q", ErrMalformed, parts[2])
	}
	var m, t, th uint64
	for i, kv := range strings.Split(parts[3], ",") {
		name, value, ok := strings.Cut(kv, "=")
		want := [...]string{"m", "t", "p"}
		if !ok || i >= len(want) || name != want[i] {
			return p, nil, nil, fmt.Errorf("%w: parameters %q", ErrMalformed, parts[3])
		}
		v, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return p, nil, nil, fmt.Errorf("%w: parameter %s: %w", ErrMalformed, name, err)
		}
		switch name {
		case "m":
			m = v
		case "t":
			t = v
		case "p":
			th = v
		}
	}
	if m == 0 || t == 0 || th == 0 || m > maxMemory || t > maxTime || th > maxThreads || m < 8*th {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range: %q", ErrMalformed, parts[3])
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("%w: salt", ErrMalformed)
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, fmt.Errorf("%w: hash", ErrMalformed)
	}
	return Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th)}, salt, key, nil
}
