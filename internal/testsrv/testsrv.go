// Package testsrv starts real Redis, NATS and PostgreSQL servers for tests,
// each on a free loopback port with its data in the test's temporary
// directory, and can stop, kill and restart them on the same port (for the
// failure tests). The servers are Debian's binaries (redis-server,
// nats-server, postgresql); without one a test is skipped — except in CI
// (CI=true), where a missing server fails the test: .ci/run installs them.
package testsrv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one running (or stopped) server process.
type Server struct {
	t    testing.TB
	name string
	Port int
	// URL is how clients reach it: redis://…, nats://… or postgres://….
	URL string

	argv  []string // how to start it
	asUID *syscall.Credential
	dir   string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	frozen bool // SIGSTOPped by Freeze
	outMu  sync.Mutex
	out    *bytes.Buffer
}

// require finds a binary, or skips the test (fails it in CI).
func require(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if _, err := os.Stat(n); err == nil {
			return n
		}
	}
	msg := fmt.Sprintf("%s not installed (.ci/run installs it)", names[0])
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Redis starts redis-server (no persistence: pub/sub needs none).
func Redis(t testing.TB) *Server {
	t.Helper()
	bin := require(t, "redis-server")
	port := FreePort(t)
	dir := t.TempDir()
	s := &Server{t: t, name: "redis", Port: port, dir: dir,
		URL:  fmt.Sprintf("redis://127.0.0.1:%d/0", port),
		argv: []string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"},
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// NATS starts nats-server.
func NATS(t testing.TB) *Server {
	t.Helper()
	bin := require(t, "nats-server", "/usr/sbin/nats-server")
	port := FreePort(t)
	s := &Server{t: t, name: "nats", Port: port, dir: t.TempDir(),
		URL:  fmt.Sprintf("nats://127.0.0.1:%d", port),
		argv: []string{bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port)},
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Postgres initializes a database cluster in a temporary directory and
// starts PostgreSQL on it, as the postgres user when the test runs as
// root (PostgreSQL refuses to run as root). URL names the database
// "parley", owned by the superuser "parley", with trust authentication on
// loopback.
func Postgres(t testing.TB) *Server {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	bin := require(t, append(bins, "postgres")...)
	binDir := filepath.Dir(bin)
	port := FreePort(t)
	dir, err := os.MkdirTemp("", "parley-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, name: "postgres", Port: port, dir: dir,
		URL: fmt.Sprintf("postgres://parley@127.0.0.1:%d/parley?sslmode=disable", port),
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user to run PostgreSQL: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.asUID = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	s.run(filepath.Join(binDir, "initdb"), "-D", data, "-U", "parley", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	s.argv = []string{bin, "-D", data, "-p", strconv.Itoa(port), "-h", "127.0.0.1", "-k", dir,
		// fsync off: fast, and a killed server still keeps its commits (they
		// reach the OS at commit); only a machine crash would lose them.
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"}
	s.Start()
	t.Cleanup(s.Stop)
	s.run(filepath.Join(binDir, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "parley", "parley")
	return s
}

// run runs a setup command to completion (as the server's user).
func (s *Server) run(argv ...string) {
	s.t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dir
	if s.asUID != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.asUID}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("%s: %v\n%s", filepath.Base(argv[0]), err, out)
	}
}

// Start starts the server (again, on the same port and data) and waits
// until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Dir = s.dir
	s.out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &s.outMu, w: s.out}, &lockedWriter{mu: &s.outMu, w: s.out}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: s.asUID}
	runtime.LockOSThread() // Pdeathsig follows the thread that started the child
	err := cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		s.t.Fatalf("start %s: %v", s.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s.ready() {
			return
		}
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("%s exited at start:\n%s", s.name, s.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not accept connections within 30 s:\n%s", s.name, s.output())
		}
	}
}

// ready reports whether the server answers: a TCP connection, and for
// PostgreSQL pg_isready (it accepts connections before it accepts queries).
func (s *Server) ready() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	if s.name != "postgres" {
		return true
	}
	isReady := filepath.Join(filepath.Dir(s.argv[0]), "pg_isready")
	return exec.Command(isReady, "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port)).Run() == nil
}

// Stop ends the server gracefully (SIGTERM; SIGKILL after 10 s) and waits
// for it. A stopped server can be started again.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Freeze stops the server's processes with SIGSTOP — the server first, so
// that it starts no more, then its descendants (PostgreSQL's backends,
// each in a session of its own) — as a hung server or a host that is
// gone without closing its connections looks from outside: its sockets
// stay open and it answers nothing. Thaw (or Stop, Kill) ends it.
func (s *Server) Freeze() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && !s.frozen {
		_ = s.cmd.Process.Signal(syscall.SIGSTOP)
		for _, pid := range descendants(s.cmd.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		}
		s.frozen = true
	}
}

// descendants returns the processes under pid (children first), read
// from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		fields := strings.Fields(string(b[i+1:]))
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if len(fields) > 1 {
			pp, _ := strconv.Atoi(fields[1])
			parent[p] = pp
		}
	}
	var out []int
	for frontier := []int{pid}; len(frontier) > 0; {
		var next []int
		for p, pp := range parent {
			if slices.Contains(frontier, pp) {
				next = append(next, p)
			}
		}
		out, frontier = append(out, next...), next
	}
	return out
}

// Thaw lets a frozen server go on (SIGCONT).
func (s *Server) Thaw() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.thaw()
}

func (s *Server) thaw() {
	if s.cmd != nil && s.frozen {
		for _, pid := range descendants(s.cmd.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
	s.frozen = false
}

// Restart stops the server and starts it again on the same port and data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if sig == syscall.SIGTERM && s.name == "postgres" {
		sig = syscall.SIGINT // "fast" shutdown: do not wait for clients to leave
	}
	_ = s.cmd.Process.Signal(sig)
	s.thaw() // a stopped process handles its SIGTERM once it runs again
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Output returns what the server printed so far, for a failing test.
func (s *Server) output() string {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.out.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
