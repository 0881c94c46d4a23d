package membroker_test

import (
	"context"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/membroker"
)

func TestPublishReachesEverySubscriberUntilUnsubscribed(t *testing.T) {
	b := membroker.New()
	var a, c []string
	unsubA := b.Subscribe(func(ev *parley.Event) { a = append(a, ev.Room) })
	b.Subscribe(func(ev *parley.Event) { c = append(c, ev.Room) })
	for _, room := range []string{"one", "two"} {
		if err := b.Publish(context.Background(), &parley.Event{Kind: parley.EventJoined, Room: room}); err != nil {
			t.Fatal(err)
		}
	}
	unsubA()
	unsubA() // twice is harmless
	_ = b.Publish(context.Background(), &parley.Event{Kind: parley.EventJoined, Room: "three"})
	if len(a) != 2 || a[0] != "one" || a[1] != "two" {
		t.Errorf("first subscriber got %v; want [one two]", a)
	}
	if len(c) != 3 {
		t.Errorf("second subscriber got %v; want 3 events in order", c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Publish(ctx, &parley.Event{}); err == nil {
		t.Error("Publish with a cancelled context: nil error")
	}
}
