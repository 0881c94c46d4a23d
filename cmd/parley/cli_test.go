package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestHelpDocumentsEveryServeFlagAndItsEnvironmentVariable(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut, func(string) string { return "" }); code != 0 {
			t.Fatalf("parley %v: exit %d", args, code)
		}
		help := out.String() + errOut.String()
		for _, want := range []string{
			"-addr", "PARLEY_ADDR", "-db", "PARLEY_DB", "-allowed-origins", "PARLEY_ALLOWED_ORIGINS",
			"-admin-token", "PARLEY_ADMIN_TOKEN", "-max-message-chars", "-rate", "PARLEY_RATE", "-burst",
			"-trusted-proxies", "PARLEY_TRUSTED_PROXIES", "-session-ttl", "PARLEY_SESSION_TTL",
		} {
			if !strings.Contains(help, want) {
				t.Errorf("parley %v does not mention %s", args, want)
			}
		}
	}
}

func TestFlagsComeFromEnvironmentUnlessGiven(t *testing.T) {
	env := map[string]string{"PARLEY_ADDR": "127.0.0.1:9999", "PARLEY_RATE": "3", "PARLEY_DB": "/tmp/x.db"}
	m := NewMain(&bytes.Buffer{}, func(k string) string { return env[k] })
	if err := m.ParseFlags([]string{"--db", "/tmp/flag.db"}); err != nil {
		t.Fatal(err)
	}
	if m.Config.Addr != "127.0.0.1:9999" || m.Config.Rate != 3 || m.Config.DB != "/tmp/flag.db" {
		t.Errorf("config = %+v; want addr and rate from env, db from the flag", m.Config)
	}
	env["PARLEY_RATE"] = "fast"
	if err := NewMain(&bytes.Buffer{}, func(k string) string { return env[k] }).ParseFlags(nil); err == nil || !strings.Contains(err.Error(), "PARLEY_RATE") {
		t.Errorf("bad PARLEY_RATE: err = %v; want one naming the variable", err)
	}
}

func TestDefaults(t *testing.T) {
	m := NewMain(&bytes.Buffer{}, func(string) string { return "" })
	if err := m.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if m.Config.Addr != ":8080" || m.Config.DB != "./parley.db" {
		t.Errorf("defaults = %+v; want :8080 and ./parley.db", m.Config)
	}
}

// The cluster settings come from flags or PARLEY_STORE / PARLEY_BROKER;
// a heartbeat must be positive.
func TestClusterFlags(t *testing.T) {
	env := map[string]string{"PARLEY_STORE": "postgres://db/parley", "PARLEY_BROKER": "nats://n:4222", "PARLEY_HEARTBEAT": "500ms"}
	m := NewMain(&bytes.Buffer{}, func(k string) string { return env[k] })
	if err := m.ParseFlags([]string{"--broker-channel", "chat.eu"}); err != nil {
		t.Fatal(err)
	}
	if c := m.Config; c.Store != "postgres://db/parley" || c.Broker != "nats://n:4222" || c.Heartbeat != 500*time.Millisecond || c.BrokerChannel != "chat.eu" {
		t.Errorf("config = %+v", c)
	}
	if err := NewMain(&bytes.Buffer{}, func(string) string { return "" }).ParseFlags([]string{"--heartbeat", "0s"}); err == nil {
		t.Error("--heartbeat 0s accepted")
	}
	if got := redact("postgres://parley:s3cret@db:5432/parley"); strings.Contains(got, "s3cret") {
		t.Errorf("redact kept the password: %s", got)
	}
}
