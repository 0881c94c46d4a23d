package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/httpd"
)

// readyz returns GET /readyz's status and body.
func readyz(t *testing.T, url string) (int, httpd.ReadyJSON) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var body httpd.ReadyJSON
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET /readyz: %s: body: %v", resp.Status, err)
	}
	return resp.StatusCode, body
}

// waitReady polls /readyz until it answers status with exactly down down,
// within 30 s (a restarted server takes a few seconds to be reconnected).
func waitReady(t *testing.T, url string, status int, down ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, body := readyz(t, url)
		if got == status && slices.Equal(body.Down, down) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %+v; want %d with down %v", got, body, status, down)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestReadyzOneNodeIsAlwaysReady(t *testing.T) {
	s := startServer(t)
	status, body := readyz(t, s.URL())
	if status != http.StatusOK || body.Status != "ready" || body.Checks["store"] != "ok" || body.Checks["broker"] != "ok" {
		t.Errorf("/readyz = %d %+v; want 200, store and broker ok", status, body)
	}
	resp, err := http.Get(s.URL() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestReadyzFollowsTheStoreAndTheBroker(t *testing.T) {
	eachBroker(t, func(t *testing.T, e *clusterEnv) {
		s := startServer(t, "--store", e.pg.URL, "--broker", e.broker.URL, "--heartbeat", "200ms")
		url := s.URL()
		waitReady(t, url, http.StatusOK)

		e.broker.Stop()
		waitReady(t, url, http.StatusServiceUnavailable, "broker")
		if resp, err := http.Get(url + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz while the broker is down: %v %v; want 200", resp, err)
		} else {
			resp.Body.Close()
		}
		e.broker.Start()
		waitReady(t, url, http.StatusOK)

		e.pg.Stop()
		waitReady(t, url, http.StatusServiceUnavailable, "store")
		e.pg.Start()
		waitReady(t, url, http.StatusOK)
	})
}
