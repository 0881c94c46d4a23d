package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The official socket.io-client packages (test/socketio, installed with
// npm ci) driven one process per client through test/socketio/driver.cjs.

const sioDir = "../../test/socketio"

// sioReady skips (fails in CI) when node or the npm packages are missing.
func sioReady(t *testing.T) string {
	t.Helper()
	nodeBin, err := exec.LookPath("node")
	if err == nil {
		if _, err = os.Stat(filepath.Join(sioDir, "node_modules", "sio4")); err == nil {
			return nodeBin
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("Socket.IO clients are not installed (%v): .ci/run runs npm ci in test/socketio", err)
	}
	t.Skipf("Socket.IO clients are not installed (%v): run npm ci in test/socketio", err)
	return ""
}

// sioEvents are the server events clients before 4.x listen for (they
// have no onAny).
var sioEvents = []string{"message", "mention", "presence", "typing", "announcement", "error", "my response"}

// sioClient is one socket.io-client in a node process.
type sioClient struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan map[string]any
	backlog []map[string]any
	mu      sync.Mutex
	nextID  int
	exited  chan struct{}
}

// sio starts a client of socket.io-client version ("4", "2", "1") over
// transport ("polling", "websocket", "upgrade") in namespace nsp, and
// waits until it is connected.
func (s *server) sio(version, transport, nsp string) *sioClient {
	s.t.Helper()
	return dialSIO(s.t, s.URL(), version, transport, nsp)
}

// dialSIO starts a socket.io-client of version over transport in nsp,
// connected to the server at url, and waits until it is connected.
func dialSIO(t *testing.T, url, version, transport, nsp string) *sioClient {
	t.Helper()
	nodeBin := sioReady(t)
	args := append([]string{"driver.cjs", version, url, nsp, transport}, sioEvents...)
	cmd := exec.Command(nodeBin, args...)
	cmd.Dir = sioDir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	c := &sioClient{t: t, name: "sio" + version + "/" + transport + nsp, cmd: cmd, stdin: stdin, lines: make(chan map[string]any, 1024), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				c.lines <- m
			}
		}
		close(c.lines)
	}()
	go func() { _ = cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-c.exited:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s stderr: %s", c.name, stderr.String())
		}
	})
	ev := c.next(func(m map[string]any) bool { return m["ev"] == "connect" || m["ev"] == "connect_error" })
	if ev["ev"] != "connect" {
		t.Fatalf("%s: %v", c.name, ev)
	}
	return c
}

func (c *sioClient) send(cmd map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		c.t.Fatalf("%s: write to driver: %v", c.name, err)
	}
}

// next returns the first line matching pred within the timeout; lines
// that do not match stay queued for later.
func (c *sioClient) next(pred func(map[string]any) bool) map[string]any {
	c.t.Helper()
	m, ok := c.wait(10*time.Second, pred)
	if !ok {
		c.t.Fatalf("%s: nothing matching within 10s; backlog %v", c.name, c.backlog)
	}
	return m
}

func (c *sioClient) wait(d time.Duration, pred func(map[string]any) bool) (map[string]any, bool) {
	for i, m := range c.backlog {
		if pred(m) {
			c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
			return m, true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-c.lines:
			if !ok {
				return nil, false
			}
			if pred(m) {
				return m, true
			}
			c.backlog = append(c.backlog, m)
		case <-timer.C:
			return nil, false
		}
	}
}

// call emits name with payload and an ack callback and returns what the
// callback received (the native reply or error object).
func (c *sioClient) call(name string, payload ...any) map[string]any {
	c.t.Helper()
	c.nextID++
	id := float64(c.nextID)
	c.send(map[string]any{"op": "emit", "id": id, "name": name, "args": payload, "ack": true})
	m := c.next(func(m map[string]any) bool { return m["ev"] == "ack" && m["id"] == id })
	args, _ := m["args"].([]any)
	if len(args) != 1 {
		c.t.Fatalf("%s: ack of %s with %v; want one argument", c.name, name, args)
	}
	reply, _ := args[0].(map[string]any)
	return reply
}

// mustCall is call that fails the test on an error reply.
func (c *sioClient) mustCall(name string, payload ...any) map[string]any {
	c.t.Helper()
	r := c.call(name, payload...)
	if r["type"] == "error" {
		c.t.Fatalf("%s: %s %v: error %v: %v", c.name, name, payload, r["code"], r["message"])
	}
	return r
}

// waitTransport waits until the client's Engine.IO transport is name (an
// upgrade may finish before or after "connect").
func (c *sioClient) waitTransport(name string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.send(map[string]any{"op": "transport"})
		m := c.next(func(m map[string]any) bool { return m["ev"] == "transport" })
		if m["transport"] == name {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: transport %v after 10s; want %s", c.name, m["transport"], name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// emit emits without an ack callback.
func (c *sioClient) emit(name string, payload ...any) {
	c.t.Helper()
	c.send(map[string]any{"op": "emit", "name": name, "args": payload})
}

// event waits for a server event name whose first argument satisfies pred.
func (c *sioClient) event(name string, pred func(map[string]any) bool) map[string]any {
	c.t.Helper()
	m := c.next(func(m map[string]any) bool { return m["ev"] == "event" && m["name"] == name && pred(firstArg(m)) })
	return firstArg(m)
}

// noEvent fails if a matching event arrives within d.
func (c *sioClient) noEvent(d time.Duration, name string, pred func(map[string]any) bool) {
	c.t.Helper()
	if m, ok := c.wait(d, func(m map[string]any) bool { return m["ev"] == "event" && m["name"] == name && pred(firstArg(m)) }); ok {
		c.t.Errorf("%s: unexpected %s %v", c.name, name, m)
	}
}

func firstArg(m map[string]any) map[string]any {
	args, _ := m["args"].([]any)
	if len(args) == 0 {
		return nil
	}
	a, _ := args[0].(map[string]any)
	return a
}

// msgText matches a message event by text.
func msgText(text string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["text"] == text }
}

func anyEvent(map[string]any) bool { return true }

func str(v any) string { return fmt.Sprint(v) }

func newRequest(method, url, origin string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, nil)
	if err == nil && origin != "" {
		req.Header.Set("Origin", origin)
	}
	return req, err
}

func doRequest(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}
