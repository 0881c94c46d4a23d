package httpd_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/parley-chat/parley/internal/httpd"
)

// The routes: the page's files (admin.html among them) with their security
// headers, everything under /api/ to the API handler, health.
func TestRoutes(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "api "+r.Method+" "+r.URL.Path)
	})
	ws := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ws") })
	h := httpd.New(httpd.Config{
		Web: fstest.MapFS{
			"index.html": {Data: []byte("<p>chat</p>")},
			"admin.html": {Data: []byte("<p>admin</p>")},
		},
		WebSocket: ws,
		API:       api,
	})
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
		csp          bool
	}{
		{"GET", "/", 200, "<p>chat</p>", true},
		{"GET", "/admin.html", 200, "<p>admin</p>", true},
		{"GET", "/api/rooms", 200, "api GET /api/rooms", false},
		{"DELETE", "/api/rooms/lobby/messages/3", 200, "api DELETE /api/rooms/lobby/messages/3", false},
		{"PUT", "/api/users/b%C3%B8b/role", 200, "api PUT /api/users/bøb/role", false},
		{"GET", "/healthz", 200, "ok\n", false},
		{"GET", "/ws", 200, "ws", false},
		{"POST", "/", 405, "", false},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s = %d %q; want %d %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
		if got := rec.Header().Get("Content-Security-Policy") != ""; got != tc.csp {
			t.Errorf("%s %s: CSP set = %v; want %v", tc.method, tc.path, got, tc.csp)
		}
	}
}

// Without an API handler, /api/ is not found.
func TestNoAPI(t *testing.T) {
	h := httpd.New(httpd.Config{Web: fstest.MapFS{}, WebSocket: http.NotFoundHandler()})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/announcements", strings.NewReader("{}")))
	if rec.Code == http.StatusOK || rec.Code == http.StatusCreated {
		t.Errorf("POST /api/announcements without an API = %d", rec.Code)
	}
}
