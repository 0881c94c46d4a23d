package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parley-chat/parley/internal/wstest"
)

// scrape reads url's /metrics: each sample as name{label="value",…}
// (labels sorted; a histogram as its _count and _sum) → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
				out[key+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// waitMetric polls /metrics until ok(value of key) or the timeout, and
// returns the last value.
func waitMetric(t *testing.T, url, key string, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(wstest.Timeout)
	for {
		v, found := scrape(t, url)[key]
		if found && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v (present: %v): not what was waited for", key, v, found)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func equals(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

func TestMetricsMoveWithTraffic(t *testing.T) {
	s := startServer(t, "--rate", "10000", "--burst", "10000")
	url := s.URL()
	const wsConns = `parley_connections{transport="ws"}`
	before := scrape(t, url)
	for _, key := range []string{
		wsConns, `parley_connections{transport="socketio"}`, "parley_events_delivered_total", "parley_messages_stored_total",
		`parley_slow_consumer_closes_total{transport="ws"}`, `parley_errors_total{code="bad_json"}`,
		"parley_broker_publish_failures_total", "parley_cluster_nodes", "parley_store_append_duration_seconds_count",
		"parley_fanout_duration_seconds_count", `parley_commands_total{op="send"}`, "go_goroutines",
	} {
		if _, ok := before[key]; !ok {
			t.Errorf("/metrics has no %s", key)
		}
	}
	if before[wsConns] != 0 || before["parley_cluster_nodes"] != 1 {
		t.Errorf("idle server: %s = %v, cluster nodes = %v; want 0 and 1", wsConns, before[wsConns], before["parley_cluster_nodes"])
	}

	// M members; the joined events settle before the baseline.
	alice, bob, carol := s.client("alice"), s.client("bob"), s.client("carol")
	for _, c := range []*wstest.Client{alice, bob, carol} {
		c.Join("lobby")
	}
	alice.Expect(func(f wstest.Frame) bool { return f.Type() == "joined" && f.Str("nickname") == "carol" })
	bob.Expect(func(f wstest.Frame) bool { return f.Type() == "joined" && f.Str("nickname") == "carol" })
	waitMetric(t, url, wsConns, equals(3))
	base := scrape(t, url)

	const n, members = 7, 3
	for i := range n {
		alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": fmt.Sprint("hello ", i)})
	}
	for _, c := range []*wstest.Client{alice, bob, carol} {
		for i := range n {
			c.Expect(isMessage(fmt.Sprint("hello ", i)))
		}
	}
	waitMetric(t, url, "parley_events_delivered_total", equals(base["parley_events_delivered_total"]+n*members))
	time.Sleep(quiet) // nothing more comes
	after := scrape(t, url)
	for key, delta := range map[string]float64{
		"parley_events_delivered_total":              n * members,
		"parley_messages_stored_total":               n,
		`parley_commands_total{op="send"}`:           n,
		"parley_store_append_duration_seconds_count": n,
	} {
		if got := after[key] - base[key]; got != delta {
			t.Errorf("%s went up by %v; want %v", key, got, delta)
		}
	}
	if after["parley_fanout_duration_seconds_count"] <= base["parley_fanout_duration_seconds_count"] {
		t.Errorf("parley_fanout_duration_seconds_count did not move: %v", after["parley_fanout_duration_seconds_count"])
	}

	// A resent client_id is stored once.
	alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "once", "client_id": "c1"})
	alice.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "once", "client_id": "c1"})
	waitMetric(t, url, "parley_messages_stored_total", equals(after["parley_messages_stored_total"]+1))

	// Bad commands: counted by error code and as invalid ops.
	alice.Request(map[string]any{"type": "bogus"})
	if err := alice.SendRaw([]byte("{not json")); err != nil {
		t.Fatal(err)
	}
	alice.Expect(func(f wstest.Frame) bool { return f.Type() == "error" && f.Str("code") == "bad_json" })
	bad := scrape(t, url)
	for key, delta := range map[string]float64{
		`parley_errors_total{code="unknown_type"}`: 1,
		`parley_errors_total{code="bad_json"}`:     1,
		`parley_commands_total{op="invalid"}`:      2,
	} {
		if got := bad[key] - after[key]; got != delta {
			t.Errorf("%s went up by %v; want %v", key, got, delta)
		}
	}
	if _, ok := bad[`parley_commands_total{op="bogus"}`]; ok {
		t.Error("a client's made-up op became a label value")
	}

	// Connections go down as clients leave.
	bob.Close()
	carol.Close()
	waitMetric(t, url, wsConns, equals(1))
}

func TestMetricsCountSlowConsumerCloses(t *testing.T) {
	s := startServer(t, "--rate", "10000", "--burst", "10000", "--outbox-messages", "64", "--send-buffer-bytes", "4096")
	url := s.URL()
	const key = `parley_slow_consumer_closes_total{transport="ws"}`
	sender, stuck := s.client("sender"), s.client("stuck")
	sender.Join("lobby")
	stuck.Join("lobby")
	stuck.StopReading()
	text := strings.Repeat("z", 3000)
	for i := 0; i < 2000 && scrape(t, url)[key] == 0; i++ {
		for range 20 {
			sender.MustOK(map[string]any{"type": "send", "room": "lobby", "text": text})
		}
	}
	waitMetric(t, url, key, equals(1))
	waitMetric(t, url, `parley_connections{transport="ws"}`, equals(1))
}

func TestMetricsSocketIOConnections(t *testing.T) {
	s := startServer(t)
	sioReady(t)
	c := s.sio("4", "websocket", "/")
	waitMetric(t, s.URL(), `parley_connections{transport="socketio"}`, equals(1))
	c.mustCall("hello", map[string]any{"nickname": "sio"})
	_ = c.stdin.Close()
	waitMetric(t, s.URL(), `parley_connections{transport="socketio"}`, equals(0))
}

func TestMetricsFlag(t *testing.T) {
	s := startServer(t, "--metrics=false", "--debug-addr", "127.0.0.1:0")
	resp, err := http.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("/metrics with --metrics=false: %s; want it not served", resp.Status)
	}
	if v := scrape(t, "http://"+s.DebugAddr())["parley_cluster_nodes"]; v != 1 {
		t.Errorf("/metrics on --debug-addr: parley_cluster_nodes = %v; want 1", v)
	}
}
