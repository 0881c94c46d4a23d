// Package admit puts work into bounded queues (channels) without waiting
// long for room: a queue that stays full refuses, so that overload is
// answered at once instead of piling up callers.
package admit

import (
	"context"
	"errors"
	"time"
)

// ErrFull is Send's error when the queue stayed full for the whole wait.
var ErrFull = errors.New("admit: the queue is full")

// Send sends v on ch, waiting at most wait for room. It fails with ErrFull
// if the queue stays full that long, and with ctx's error if ctx ends
// first.
func Send[T any](ctx context.Context, ch chan<- T, v T, wait time.Duration) error {
	select {
	case ch <- v:
		return nil
	default:
	}
	full := time.NewTimer(wait)
	defer full.Stop()
	select {
	case ch <- v:
		return nil
	case <-full.C:
		return ErrFull
	case <-ctx.Done():
		return ctx.Err()
	}
}
