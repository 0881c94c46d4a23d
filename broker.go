package parley

import "context"

// Broker carries events between the nodes of a cluster. The in-memory
// broker (internal/membroker) connects the single node of a one-process
// server to itself.
type Broker interface {
	// Publish hands ev to every subscriber on every node, in the order of
	// Publish calls made from one goroutine. It returns once the broker has
	// accepted the event; delivery is asynchronous for remote nodes.
	Publish(ctx context.Context, ev *Event) error

	// Subscribe calls fn for every published event until unsubscribe is
	// called. fn must not block: it runs on the broker's delivery path.
	Subscribe(fn func(*Event)) (unsubscribe func())
}
