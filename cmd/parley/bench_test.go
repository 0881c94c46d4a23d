package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// parley bench against the real server, both protocols, room and direct
// messages: everything sent is delivered to every member of the room (a
// direct message to its two people) once, and it says so.
func TestBenchCountsEveryDeliveryOnce(t *testing.T) {
	s := startServer(t, "--rate", "1000000", "--burst", "1000000")
	for _, tc := range []struct {
		name    string
		args    []string
		perSend int64 // deliveries each acknowledged message should make
	}{
		// 42 connections over 2 rooms: each message reaches 21.
		{"rooms", []string{"--subscribers", "40", "--publishers", "2", "--rooms", "2"}, 21},
		// 4 people writing to one another; the 6 readers get nothing.
		{"direct", []string{"--subscribers", "6", "--publishers", "4", "--direct"}, 2},
	} {
		for _, proto := range []string{"native", "socketio"} {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				res := runBench(t, append([]string{"--url", s.URL(), "--protocol", proto, "--rate", "200", "--duration", "1s"}, tc.args...)...)
				if res.Sent < 100 || res.Expected != res.Sent*tc.perSend || res.Delivered != res.Expected ||
					res.Lost != 0 || res.Duplicated != 0 || res.Disconnected != 0 || res.Latency.Max <= 0 || res.CPU <= 0 {
					t.Errorf("result %+v", res)
				}
			})
		}
	}
}

// benchResult is what the tests read of parley bench --json.
type benchResult struct {
	Sent, Expected, Delivered, Lost, Duplicated, Disconnected int64
	Latency                                                   struct{ P50, P99, Max float64 } `json:"latency_ms"`
	CPU                                                       float64                         `json:"bench_cpu_s"`
}

// runBench runs parley bench with args and --json, and returns its result.
func runBench(t *testing.T, args ...string) benchResult {
	t.Helper()
	var out, errOut strings.Builder
	code := run(context.Background(), append(append([]string{"bench"}, args...), "--json"), &out, &errOut, func(string) string { return "" })
	if code != 0 {
		t.Fatalf("parley bench exited %d: %s", code, errOut.String())
	}
	var res benchResult
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return res
}

// A run whose every send is refused measured nothing: parley bench fails
// and says what the server answered.
func TestBenchFailsWhenEverySendIsRefused(t *testing.T) {
	s := startServer(t, "--rate", "1000000", "--burst", "1000000", "--max-message-chars", "100")
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"bench", "--url", s.URL(), "--subscribers", "2", "--publishers", "1",
		"--size", "200", "--rate", "20", "--duration", "500ms"}, &out, &errOut, func(string) string { return "" })
	if code == 0 || !strings.Contains(errOut.String(), "refused every send") || !strings.Contains(errOut.String(), "too_large") {
		t.Errorf("exit %d, stderr %q; want a failure naming the server's answer (too_large)", code, errOut.String())
	}
}
