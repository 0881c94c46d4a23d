package admit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/admit"
)

// A queue with room takes the value at once; one that stays full refuses
// after the wait; one that frees up within the wait takes it; a caller
// whose context ends stops waiting.
func TestSend(t *testing.T) {
	ctx := context.Background()
	q := make(chan int, 1)
	if err := admit.Send(ctx, q, 1, time.Hour); err != nil {
		t.Fatalf("Send to a queue with room: %v", err)
	}
	start := time.Now()
	if err := admit.Send(ctx, q, 2, 20*time.Millisecond); !errors.Is(err, admit.ErrFull) {
		t.Fatalf("Send to a full queue: %v; want ErrFull", err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("ErrFull after %v; want after the 20 ms wait", d)
	}
	go func() { time.Sleep(10 * time.Millisecond); <-q }()
	if err := admit.Send(ctx, q, 3, time.Hour); err != nil {
		t.Fatalf("Send to a queue that frees up: %v", err)
	}
	if v := <-q; v != 3 {
		t.Fatalf("queue holds %d; want 3", v)
	}
	q <- 4
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := admit.Send(cctx, q, 5, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with an ended context to a full queue: %v; want context.Canceled", err)
	}
}
