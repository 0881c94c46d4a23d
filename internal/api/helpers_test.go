package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/api"
	"github.com/parley-chat/parley/internal/markup"
	"github.com/parley-chat/parley/internal/membroker"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/password"
	"github.com/parley-chat/parley/internal/peer"
	"github.com/parley-chat/parley/internal/protocol"
	"github.com/parley-chat/parley/internal/sqlite"
)

// adminToken is the --admin-token of every test server.
const adminToken = "s3cret-admin-token"

// cheap makes password hashes fast in tests.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

// env is the API in front of a real node (SQLite in a temporary directory,
// the in-memory broker) on a loopback HTTP server.
type env struct {
	t    *testing.T
	node *node.Node
	api  *api.Handler
	srv  *httptest.Server
}

// newEnv starts an API; edit changes its configuration.
func newEnv(t *testing.T, edit ...func(*api.Config)) *env {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "api.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	n := node.New(store, membroker.New(), markup.New(), node.Config{PasswordParams: cheap, SessionTTL: 48 * time.Hour})
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	cfg := api.Config{Engine: n, AdminToken: adminToken, SessionTTL: 48 * time.Hour}
	for _, f := range edit {
		f(&cfg)
	}
	h := api.New(cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, node: n, api: h, srv: srv}
}

// trustLoopback makes the test client a trusted proxy.
func trustLoopback(c *api.Config) {
	c.Peers = peer.Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
}

// res is an HTTP answer.
type res struct {
	Status int
	Body   map[string]any
	Raw    string
	Header http.Header
	Cookie *http.Cookie // the login cookie it set, if any
}

// code is the error code of the answer, "" if none.
func (r res) code() string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r res) str(key string) string { s, _ := r.Body[key].(string); return s }

func (r res) list(key string) []map[string]any {
	var out []map[string]any
	items, _ := r.Body[key].([]any)
	for _, it := range items {
		out = append(out, it.(map[string]any))
	}
	return out
}

// cred is how a request authenticates: a bearer secret or the login
// cookie (sent with the server's own Origin unless origin says otherwise).
type cred struct {
	bearer, cookie string
	origin         *string // nil: the server's own origin with a cookie, none with a bearer
	fetchSite      string  // Sec-Fetch-Site, if any
}

func (c cred) site(s string) cred {
	c.fetchSite = s
	return c
}

func bearer(s string) cred { return cred{bearer: s} }
func cookie(s string) cred { return cred{cookie: s} }
func (c cred) withOrigin(o string) cred {
	c.origin = &o
	return c
}

var anon = cred{}

// do sends method path with body (nil: none; a string: raw, else JSON) and
// extra header pairs.
func (e *env) do(c cred, method, path string, body any, header ...string) res {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	default:
		j, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: peer.CookieName, Value: c.cookie})
		req.Header.Set("Origin", e.srv.URL)
	}
	if c.origin != nil {
		req.Header.Del("Origin")
		if *c.origin != "" {
			req.Header.Set("Origin", *c.origin)
		}
	}
	if c.fetchSite != "" {
		req.Header.Set("Sec-Fetch-Site", c.fetchSite)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := res{Status: resp.StatusCode, Raw: string(raw), Header: resp.Header}
	e.checkDocumented(req, out)
	_ = json.Unmarshal(raw, &out.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == peer.CookieName {
			out.Cookie = ck
		}
	}
	return out
}

// documentedStatuses is "METHOD /path" → the statuses the OpenAPI
// document gives the operation.
var documentedStatuses = sync.OnceValue(func() map[string]map[string]bool {
	h := api.New(api.Config{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	var d struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		panic(err)
	}
	out := map[string]map[string]bool{}
	for path, ops := range d.Paths {
		for m, op := range ops {
			set := map[string]bool{}
			for status := range op.Responses {
				set[status] = true
			}
			out[strings.ToUpper(m)+" "+path] = set
		}
	}
	return out
})

// checkDocumented fails the test if r, the answer to req, has a status
// the document does not give its operation (5xx are the "default"):
// every answer of every test here is checked against the document.
func (e *env) checkDocumented(req *http.Request, r res) {
	e.t.Helper()
	op := e.api.Pattern(req)
	if op == "" || r.Status >= 500 {
		return
	}
	if !documentedStatuses()[op][strconv.Itoa(r.Status)] {
		e.t.Errorf("%s %s answered %d %s, which the OpenAPI document does not give %s", req.Method, req.URL.Path, r.Status, r.Raw, op)
	}
}

// must fails the test unless the answer has status.
func (r res) must(t *testing.T, status int) res {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d %s; want %d", r.Status, r.Raw, status)
	}
	return r
}

// register registers nick and returns its session token.
func (e *env) register(nick string) string {
	e.t.Helper()
	r := e.do(anon, "POST", "/api/auth/register", map[string]any{"nickname": nick, "password": "pw-" + nick + "-long"})
	r.must(e.t, http.StatusCreated)
	return r.str("token")
}

// user registers nick with role ("" none) and returns its session token.
func (e *env) user(nick, role string) string {
	e.t.Helper()
	tok := e.register(nick)
	if role != "" {
		e.do(bearer(adminToken), "PUT", "/api/users/"+nick+"/role", map[string]any{"role": role}).must(e.t, http.StatusOK)
	}
	return tok
}

// key creates an API key and returns its secret and id.
func (e *env) key(name string) (string, float64) {
	e.t.Helper()
	r := e.do(bearer(adminToken), "POST", "/api/keys", map[string]any{"name": name}).must(e.t, http.StatusCreated)
	return r.str("secret"), r.Body["key"].(map[string]any)["id"].(float64)
}

// errMsg is the error message of the answer.
func (r res) errMsg(key string) string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e[key].(string)
	return s
}

// jsonRemarshal decodes a decoded JSON value into dst.
func jsonRemarshal(v any, dst any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// login logs nick in (registered by register) and returns the token.
func (e *env) login(nick string) string {
	e.t.Helper()
	r := e.do(anon, "POST", "/api/auth/login", map[string]any{"nickname": nick, "password": "pw-" + nick + "-long"})
	return r.must(e.t, http.StatusOK).str("token")
}

// guestToken connects a guest called nick to the node, as the WebSocket
// does, and returns the token of its welcome (a guest's claim token, not a
// login).
func (e *env) guestToken(nick string) string {
	e.t.Helper()
	out := &frames{}
	s := e.node.Connect(out, codec{}, node.Peer{Addr: "test"})
	e.node.Handle(context.Background(), s, parley.Command{Op: parley.OpHello, Nickname: nick})
	e.t.Cleanup(func() { e.node.Disconnect(context.Background(), s) })
	for _, f := range out.list {
		var w struct{ Type, Token string }
		if json.Unmarshal(f, &w) == nil && w.Type == "welcome" && w.Token != "" {
			return w.Token
		}
	}
	e.t.Fatalf("hello %s: no welcome in %q", nick, out.list)
	return ""
}

// codec is the native protocol's encoding, for guestToken.
type codec struct{}

func (codec) EncodeEvent(ev *parley.Event) []byte      { return protocol.EncodeEvent(ev) }
func (codec) EncodeReply(r *parley.Reply) []byte       { return protocol.EncodeReply(r) }
func (codec) EncodeError(ref string, err error) []byte { return protocol.EncodeError(ref, err) }

// frames records what the node sends a session.
type frames struct {
	mu   sync.Mutex
	list [][]byte
}

func (f *frames) Send(frame []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, frame)
	return true
}

func (f *frames) Close(error) {}
