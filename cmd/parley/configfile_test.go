package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "parley.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A setting comes from the command line, else the environment, else the
// configuration file, else the default.
func TestConfigFilePrecedence(t *testing.T) {
	path := writeConfig(t, `# settings are named as the flags
addr = "127.0.0.1:7001"
rate = 3
burst = 40
fanout-window = "20ms"
allowed-origins = ["https://a.example", "https://b.example"]
presence-limit = -1
metrics = false
`)
	env := map[string]string{"PARLEY_CONFIG": path, "PARLEY_BURST": "50"}
	m := NewMain(&bytes.Buffer{}, func(k string) string { return env[k] })
	if err := m.ParseFlags([]string{"--rate", "5"}); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"rate: the flag", c.Rate, 5.0},
		{"burst: the environment", c.Burst, 50},
		{"addr: the file", c.Addr, "127.0.0.1:7001"},
		{"fanout-window: the file, a duration", c.FanoutWindow, 20 * time.Millisecond},
		{"allowed-origins: the file, a list", c.AllowedOrigins, "https://a.example,https://b.example"},
		{"presence-limit: the file, negative", c.PresenceLimit, -1},
		{"max-message-chars: the default", c.MaxTextChars, 4000},
	} {
		if check.got != check.want {
			t.Errorf("%s = %v; want %v", check.what, check.got, check.want)
		}
	}
}

// A file that names something that is not a setting, or gives a setting a
// value it cannot take, is refused with the key and its line.
func TestConfigFileErrorsNameKeyAndLine(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"addr = \":1\"\n\nadr = \":2\"\n", `line 3: unknown setting "adr"`},
		{"rate = \"fast\"\n", `line 1: rate = "fast"`},
		{"addr = \":1\"\n[server]\nport = 1\n", `line 2: server: sections are not used`},
		{"config = \"other.toml\"\n", `unknown setting "config"`},
		{"addr = \n", `config file`},
	} {
		m := NewMain(&bytes.Buffer{}, func(string) string { return "" })
		err := m.ParseFlags([]string{"--config", writeConfig(t, tc.body)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v; want it to mention %q", tc.body, err, tc.want)
		}
	}
	m := NewMain(&bytes.Buffer{}, func(string) string { return "" })
	if err := m.ParseFlags([]string{"--config", "/nonexistent/parley.toml"}); err == nil {
		t.Error("a missing config file was accepted")
	}
}

// parley config check prints the configuration in effect (secrets hidden)
// and exits 0, or says what is wrong and exits 1.
func TestConfigCheck(t *testing.T) {
	path := writeConfig(t, `admin-token = "s3cret"
store = "postgres://parley:pw@db.internal/parley"
broker = "nats://nats.internal:4222"
max-message-chars = 2000
`)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", "--config", path}, &out, &errOut, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{`max-message-chars = "2000"`, `admin-token = "(hidden)"`, `store = "postgres://parley:***@db.internal/parley"`, `broker = "nats://nats.internal:4222"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{"s3cret", ":pw@"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("output shows a secret (%s)", secret)
		}
	}
	out.Reset()
	errOut.Reset()
	bad := writeConfig(t, "heartbeat = \"0s\"\n")
	if code := run(context.Background(), []string{"config", "check", "--config", bad}, &out, &errOut, func(string) string { return "" }); code != 1 || !strings.Contains(errOut.String(), "heartbeat") {
		t.Errorf("exit %d, stderr %q; want 1 and the reason", code, errOut.String())
	}
}
