package node

import (
	"testing"
	"time"
)

// Sends queued within one grain share a context; its deadline is
// storeTimeout after the grain ends, so every send gets at least
// storeTimeout and at most a grain more. A later grain gets a new one,
// and an earlier one is never cut short.
func TestSendsShareADeadlinePerGrain(t *testing.T) {
	var d sendDeadlines
	t0 := time.Now()
	a := d.get(t0)
	b := d.get(t0.Add(sendDeadlineGrain / 2))
	if a != b {
		t.Fatal("two sends within one grain got different contexts")
	}
	dl, ok := a.Deadline()
	if !ok {
		t.Fatal("no deadline")
	}
	for _, at := range []time.Time{t0, t0.Add(sendDeadlineGrain / 2)} {
		if got := dl.Sub(at); got < storeTimeout || got > storeTimeout+sendDeadlineGrain {
			t.Fatalf("a send at +%v gets %v; want between %v and %v", at.Sub(t0), got, storeTimeout, storeTimeout+sendDeadlineGrain)
		}
	}
	c := d.get(t0.Add(sendDeadlineGrain))
	if c == a {
		t.Fatal("a send after the grain got the old context")
	}
	if a.Err() != nil {
		t.Fatal("a new grain ended the old context")
	}
}
