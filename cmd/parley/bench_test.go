package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// parley bench against the real server, both protocols: everything sent
// is delivered to every member of the room once, and it says so.
func TestBenchCountsEveryDeliveryOnce(t *testing.T) {
	s := startServer(t, "--rate", "1000000", "--burst", "1000000")
	for _, proto := range []string{"native", "socketio"} {
		t.Run(proto, func(t *testing.T) {
			var out, errOut strings.Builder
			code := run(context.Background(), []string{"bench", "--url", s.URL(), "--protocol", proto,
				"--subscribers", "40", "--publishers", "2", "--rooms", "2", "--rate", "200", "--duration", "1s", "--json"},
				&out, &errOut, func(string) string { return "" })
			if code != 0 {
				t.Fatalf("parley bench exited %d: %s", code, errOut.String())
			}
			var res struct {
				Sent, Expected, Delivered, Lost, Duplicated, Disconnected int64
				Latency                                                   struct{ P50, P99, Max float64 } `json:"latency_ms"`
				CPU                                                       float64                         `json:"bench_cpu_s"`
			}
			if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			// 42 connections over 2 rooms: each message reaches 21.
			if res.Sent < 100 || res.Expected != res.Sent*21 || res.Delivered != res.Expected ||
				res.Lost != 0 || res.Duplicated != 0 || res.Disconnected != 0 || res.Latency.Max <= 0 || res.CPU <= 0 {
				t.Errorf("result %+v", res)
			}
		})
	}
}
