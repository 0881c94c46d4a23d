// Package node is the engine of one Parley process: sessions, the room
// index, fan-out of events to connections, and the use cases (hello, join,
// send, direct message, history, typing, announce) with all their
// validation, authorization and rate limiting.
//
// Accounts and moderation (accounts.go, moderation.go, announce.go,
// integrations.go) are methods that take the parley.Actor asking and check
// its role themselves; the HTTP API only authenticates. Every act is
// written to the action log and travels as an event through the broker,
// so that each node acts on its own sessions (modevents.go). Each node
// keeps the bans, mutes and slow modes in force as an immutable snapshot
// (modstate.go): hello and send read it with one atomic load. Login
// failures are counted per node (login.go).
//
// Transports (the native WebSocket endpoint, Socket.IO) decode their wire
// format into parley.Command values and call Handle; node answers through
// the session's Outbox, encoding with the session's Codec. Node never knows
// which transport a session uses.
//
// Concurrency rules:
//   - Handle is called by one goroutine per session (the transport's read
//     loop); commands of one session are handled in order.
//   - n.mu guards the session, user and room indexes. It is never held
//     during a Store or Broker call or any other I/O; Outbox.Send does not
//     block, so pushing frames under the read lock is allowed.
//   - A room's member list is copy-on-write (an atomic pointer), so fan-out
//     to a room takes no lock at all.
//   - Every message is stored before it is published, and published before
//     the sender's ack is queued.
package node
