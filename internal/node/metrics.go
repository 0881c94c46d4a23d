package node

import (
	"time"

	"github.com/parley-chat/parley"
)

// Metrics receives the node's measurements of things that happen at most
// once per command, stored message or fan-out batch (Config.Metrics; nil
// means none). The counts of the hot paths — events queued on
// connections, broker failures — are plain counters read with Stats
// instead. Implementations must be safe for concurrent use and must not
// block.
type Metrics interface {
	// Command: a command arrived, op as the client gave it ("" for a frame
	// the transport rejected: undecodable, unknown type, too large); op may
	// be anything, so an implementation must bound what it keeps per op.
	Command(op parley.Op)
	// Error: an error frame with code went to a client.
	Error(code string)
	// Appended: a message append returned after took (queued → committed
	// with a pipelining store); stored is false for a duplicate client_id
	// or a failure.
	Appended(took time.Duration, stored bool)
	// FannedOut: a room's batch of events was queued on every local
	// member, took after the oldest of them entered the room's fan-out
	// queue.
	FannedOut(took time.Duration, events int)
}

// noMetrics is the Metrics of a Node configured without.
type noMetrics struct{}

func (noMetrics) Command(parley.Op)            {}
func (noMetrics) Error(string)                 {}
func (noMetrics) Appended(time.Duration, bool) {}
func (noMetrics) FannedOut(time.Duration, int) {}

// Stats are the node's running counts.
type Stats struct {
	// Delivered counts event frames queued on connections: one per event
	// per connection (a batch of k events to a member counts k).
	Delivered int64
	// PublishFailures counts events the broker failed to take.
	PublishFailures int64
	// Nodes is how many nodes this one knows in its cluster, itself
	// included.
	Nodes int
}

// Stats returns the node's counts. It takes the read lock briefly.
func (n *Node) Stats() Stats {
	n.mu.RLock()
	nodes := len(n.remotes) + 1
	n.mu.RUnlock()
	return Stats{Delivered: n.delivered.Load(), PublishFailures: n.publishFailed.Load(), Nodes: nodes}
}

// sendError queues an error frame answering ref on s, and counts it.
func (n *Node) sendError(s *Session, ref string, err error) {
	n.cfg.Metrics.Error(parley.ErrorCode(err))
	s.send(s.codec.EncodeError(ref, err))
}
