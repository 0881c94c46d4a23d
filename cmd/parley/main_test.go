package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/wstest"
)

// server is a Main running in-process on a loopback port with a temporary
// database.
type server struct {
	*Main
	t  *testing.T
	db string
}

// startServer starts a server; args are extra serve flags.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startServerDB(t, filepath.Join(t.TempDir(), "parley.db"), args...)
}

func startServerDB(t *testing.T, db string, args ...string) *server {
	t.Helper()
	// The server's log, at debug level, is shown when the test fails (or
	// as it goes with -v).
	logs := &logBuffer{}
	m := NewMain(logs, func(string) string { return "" })
	if testing.Verbose() {
		m.Stderr = testWriter{t}
	} else {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("server log:\n%s", logs.tail(200))
			}
		})
	}
	flags := append([]string{"--addr", "127.0.0.1:0", "--db", db, "--shutdown-timeout", "5s", "--log-level", "debug"}, args...)
	if err := m.ParseFlags(flags); err != nil {
		t.Fatalf("ParseFlags: %v", err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	s := &server{Main: m, t: t, db: db}
	t.Cleanup(func() { _ = m.Close() })
	return s
}

// logBuffer keeps a server's log lines for a failing test to show.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// tail returns the last n lines.
func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines[max(0, len(b.lines)-n):], "\n")
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client connects a native client and says hello as nick ("" for none).
func (s *server) client(nick string) *wstest.Client {
	s.t.Helper()
	c := wstest.Dial(s.t, wstest.WSURL(s.URL()), nil)
	if nick != "" {
		c.Hello(nick)
	}
	return c
}

// restart closes the server and starts a new one on the same database.
func (s *server) restart(args ...string) *server {
	s.t.Helper()
	if err := s.Close(); err != nil {
		s.t.Fatalf("Close: %v", err)
	}
	return startServerDB(s.t, s.db, args...)
}

// post makes an HTTP request with a JSON body and returns status and body.
func post(t *testing.T, url, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func isMessage(text string) func(wstest.Frame) bool {
	return func(f wstest.Frame) bool { return f.Type() == "message" && f.Msg().Str("text") == text }
}

func anyMessage(f wstest.Frame) bool { return f.Type() == "message" }

// quiet is how long a test waits to be sure something does not arrive.
const quiet = 300 * time.Millisecond
