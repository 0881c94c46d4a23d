// Package parley is the domain vocabulary of the Parley chat server: users,
// rooms, messages, events and errors, and the interfaces of the services the
// engine depends on (Store, Broker).
//
// It imports only the standard library. Everything that talks to a network, a
// disk or a wire format lives in a subpackage named for what it adapts
// (internal/sqlite, internal/transport/ws, …) and speaks to the others in the
// terms defined here.
package parley
