package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/internal/wstest"
)

// TestMain lets a test run this test binary as the real parley command:
// with PARLEY_TEST_AS_MAIN=1 it is main().
func TestMain(m *testing.M) {
	if os.Getenv("PARLEY_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	code := m.Run()
	if builtPath != "" { // startBinary's build (breakit_test.go)
		_ = os.RemoveAll(filepath.Dir(builtPath))
	}
	os.Exit(code)
}

func TestSIGTERMClosesClientsWith1001AndKeepsAcknowledgedMessages(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "parley.db")
			url, cmd := startProcess(t, db)
			alice := wstest.Dial(t, wstest.WSURL(url), nil)
			alice.Hello("alice")
			alice.Join("lobby")
			acked := alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "kept"}).Msg()

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if !alice.Closed(wstest.Timeout) || alice.CloseCode() != ws.StatusGoingAway {
				t.Errorf("close code = %v (%v); want 1001", alice.CloseCode(), alice.CloseErr())
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("parley exited with %v; want 0", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("parley did not exit after the signal")
			}

			s := startServerDB(t, db)
			c := s.client("reader")
			c.Join("lobby")
			h := c.MustOK(map[string]any{"type": "history", "room": "lobby"})
			msgs := h["messages"].([]any)
			if len(msgs) != 1 || int64(msgs[0].(map[string]any)["id"].(float64)) != acked.Num("id") {
				t.Errorf("history after %v = %v; want the acknowledged message", sig, msgs)
			}
		})
	}
}

// startProcess runs this test binary as "parley serve" on a free port and
// returns its URL once it serves.
func startProcess(t *testing.T, db string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	return startCommand(t, os.Args[0], []string{"PARLEY_TEST_AS_MAIN=1"}, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...))
}

// startCommand runs bin with args (and env added) and returns the URL it
// reports once it serves.
func startCommand(t *testing.T, bin string, env, args []string) (string, *exec.Cmd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	addr := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if m := addr.FindStringSubmatch(lines.Text()); m != nil {
			go func() {
				for lines.Scan() { // keep draining the log
				}
			}()
			return "http://" + m[1], cmd
		}
	}
	t.Fatalf("parley did not report its address: %v", lines.Err())
	return "", nil
}
