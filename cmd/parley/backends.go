package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/membroker"
	"github.com/parley-chat/parley/internal/natsbroker"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/postgres"
	"github.com/parley-chat/parley/internal/redisbroker"
	"github.com/parley-chat/parley/internal/sqlite"
)

// connectTimeout bounds how long start-up waits for a store or broker
// that does not answer before refusing to start.
const connectTimeout = 10 * time.Second

// errClusterNeedsSharedStore refuses a cluster on a per-node database.
var errClusterNeedsSharedStore = errors.New("several nodes (--broker) need one shared store: add --store postgres://…; SQLite is one node's own file")

// openStore opens the store named by the configuration: PostgreSQL for a
// postgres:// URL, else SQLite in the file --db.
func openStore(ctx context.Context, c *ServeConfig) (parley.Store, string, error) {
	switch {
	case c.Store == "":
		if c.Broker != "" {
			return nil, "", errClusterNeedsSharedStore
		}
		s, err := sqlite.Open(ctx, c.DB, sqlite.Options{})
		if err != nil {
			return nil, "", fmt.Errorf("open database %s: %w", c.DB, err)
		}
		return s, "sqlite:" + c.DB, nil
	case strings.HasPrefix(c.Store, "postgres://"), strings.HasPrefix(c.Store, "postgresql://"):
		ctx, cancel := context.WithTimeout(ctx, connectTimeout)
		defer cancel()
		s, err := postgres.Open(ctx, c.Store, postgres.Options{})
		if err != nil {
			return nil, "", fmt.Errorf("open store %s: %w", redact(c.Store), err)
		}
		return s, redact(c.Store), nil
	}
	return nil, "", fmt.Errorf("--store %q: want a postgres:// URL (or nothing, for SQLite in --db)", redact(c.Store))
}

// reconnectHook is the broker's OnReconnect: it tells the node, once
// there is one, that the link came back.
type reconnectHook struct{ n atomic.Pointer[node.Node] }

func (h *reconnectHook) fire() {
	if n := h.n.Load(); n != nil {
		n.Reconnected()
	}
}

// openBroker connects the broker named by the configuration: NATS or
// Redis for a cluster, in-memory for one node.
func openBroker(ctx context.Context, c *ServeConfig, log *slog.Logger, hook *reconnectHook) (parley.Broker, func() error, string, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	switch u := c.Broker; {
	case u == "":
		return membroker.New(), func() error { return nil }, "memory", nil
	case strings.HasPrefix(u, "nats://"), strings.HasPrefix(u, "tls://"):
		b, err := natsbroker.New(ctx, u, natsbroker.Options{Channel: c.BrokerChannel, Logger: log, OnReconnect: hook.fire})
		if err != nil {
			return nil, nil, "", fmt.Errorf("broker: %w", err)
		}
		return b, b.Close, redact(u), nil
	case strings.HasPrefix(u, "redis://"), strings.HasPrefix(u, "rediss://"):
		b, err := redisbroker.New(ctx, u, redisbroker.Options{Channel: c.BrokerChannel, Logger: log, OnReconnect: hook.fire})
		if err != nil {
			return nil, nil, "", fmt.Errorf("broker: %w", err)
		}
		return b, b.Close, redact(u), nil
	}
	return nil, nil, "", fmt.Errorf("--broker %q: want nats://… or redis://… (or nothing, for one node)", redact(c.Broker))
}

// redact hides the password of a URL for logs and errors.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return u
	}
	userinfo := rest[:at]
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":***@" + rest[at+1:]
	}
	return u
}
