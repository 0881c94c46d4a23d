package node

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// Messages committed together come back from the store in any order; the
// gate hands them to the broker in sequence order.
func TestOrderedPublishesInSequenceOrder(t *testing.T) {
	o := newOrdered()
	o.init("lobby", 1)
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for _, seq := range rand.Perm(200) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.publish("lobby", int64(seq+1), func() { mu.Lock(); got = append(got, int64(seq+1)); mu.Unlock() })
		}()
	}
	wg.Wait()
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("published %v…; want 1, 2, 3, …", got[:min(len(got), i+5)])
		}
	}
}

// A message whose predecessor never comes (its sender's write committed
// but the sender went away) goes after orderWait, and the room goes on.
func TestOrderedDoesNotWaitForeverForAMissingSeq(t *testing.T) {
	o := newOrdered()
	o.init("lobby", 1)
	begin := time.Now()
	var got []int64
	o.publish("lobby", 2, func() { got = append(got, 2) }) // seq 1 never comes
	o.publish("lobby", 3, func() { got = append(got, 3) })
	o.publish("lobby", 1, func() { got = append(got, 1) }) // a straggler goes at once
	if d := time.Since(begin); d < orderWait || d > orderWait+time.Second {
		t.Errorf("took %v; want about one orderWait (%v)", d, orderWait)
	}
	if len(got) != 3 || got[0] != 2 || got[1] != 3 {
		t.Errorf("published %v", got)
	}
}
