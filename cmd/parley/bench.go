package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/parley-chat/parley/internal/bench"
)

const benchUsage = `Usage: parley bench [flags]

Load-tests a running Parley server: subscribers and publishers on real
WebSocket connections (native protocol or Socket.IO), publishers sending for
--duration. Prints progress each second, then deliveries/s, latency (the send
time travels in each message), lost, duplicated and disconnected, and its own
CPU time. Against a loopback target with many connections it spreads them
over 127.0.0.x source addresses. Start the server with a high --rate and
--burst, or the publishers will be rate-limited.
`

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg bench.Config
	var asJSON, quiet bool
	var cpuProfile string
	fs := newFlagSet("parley bench", stderr, benchUsage)
	fs.stringVar(&cfg.URL, "url", "PARLEY_BENCH_URL", "http://127.0.0.1:8080", "the server; several nodes of one cluster: comma-separated (subscribers are spread over them)")
	fs.stringVar(&cfg.PublishURL, "publish-url", "PARLEY_BENCH_PUBLISH_URL", "",
		"another node of the same cluster: publishers connect there, subscribers to --url, and every delivery crosses the broker")
	fs.stringVar(&cfg.Protocol, "protocol", "PARLEY_BENCH_PROTOCOL", "native", "native or socketio")
	fs.intVar(&cfg.Subscribers, "subscribers", "PARLEY_BENCH_SUBSCRIBERS", 1000, "connections that only read")
	fs.intVar(&cfg.Publishers, "publishers", "PARLEY_BENCH_PUBLISHERS", 1, "connections that send (and read their room)")
	fs.intVar(&cfg.Rooms, "rooms", "PARLEY_BENCH_ROOMS", 1, "rooms the connections are spread over")
	fs.boolVar(&cfg.Direct, "direct", "PARLEY_BENCH_DIRECT", false, "publishers send direct messages to one another, each to every other in turn, instead of to their room (each is delivered to both people)")
	fs.floatVar(&cfg.Rate, "rate", "PARLEY_BENCH_RATE", 0, "messages per second in all; 0: as fast as acknowledgements allow (a window of 64 per publisher)")
	fs.durationVar(&cfg.Duration, "duration", "PARLEY_BENCH_DURATION", 10*time.Second, "how long publishers send")
	fs.intVar(&cfg.Size, "size", "PARLEY_BENCH_SIZE", 64, "message size in bytes")
	fs.intVar(&cfg.Concurrency, "concurrency", "PARLEY_BENCH_CONCURRENCY", 100, "connections opened at once")
	fs.intVar(&cfg.ServerPID, "server-pid", "PARLEY_BENCH_SERVER_PID", 0, "the server's process ID, when it runs on this machine: report its CPU per delivery (send phase) and memory per connection")
	fs.boolVar(&asJSON, "json", "PARLEY_BENCH_JSON", false, "print the result as JSON")
	fs.boolVar(&quiet, "quiet", "PARLEY_BENCH_QUIET", false, "no progress lines")
	fs.stringVar(&cpuProfile, "cpuprofile", "PARLEY_BENCH_CPUPROFILE", "", "write a CPU profile of the load generator itself to this file (go tool pprof)")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.Duration <= 0 {
		return fmt.Errorf("duration %v: want a positive duration like 10s", cfg.Duration)
	}
	if !quiet && !asJSON {
		cfg.Progress = stderr
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	kind := "room messages"
	if cfg.Direct {
		kind = "direct messages"
	}
	fmt.Fprintf(stdout, "%d subscribers, %d publishers, %d rooms, %s, %s of %d bytes, %s\n",
		cfg.Subscribers, cfg.Publishers, cfg.Rooms, cfg.Protocol, kind, cfg.Size, rateText(cfg.Rate))
	fmt.Fprintf(stdout, "| deliveries/s | p50 ms | p90 ms | p99 ms | max ms | sent | refused | lost | duplicated | disconnected | bench CPU s |\n")
	fmt.Fprintf(stdout, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(stdout, "| %.0f | %.1f | %.1f | %.1f | %.1f | %d | %d | %d | %d | %d | %.1f |\n",
		res.DeliveriesSec, res.LatencyMS.P50, res.LatencyMS.P90, res.LatencyMS.P99, res.LatencyMS.Max,
		res.Sent, res.Refused, res.Lost, res.Duplicated, res.Disconnected, res.OwnCPUSeconds)
	if res.Refused > 0 {
		fmt.Fprintf(stdout, "\nthe server refused %d sends; the first answer: %s\n", res.Refused, res.FirstRefusal)
	}
	if res.Sent > 0 {
		fmt.Fprintf(stdout, "\n| stored msg/s | ack p50 ms | ack p90 ms | ack p99 ms | ack max ms |\n|---|---|---|---|---|\n")
		fmt.Fprintf(stdout, "| %.0f | %.1f | %.1f | %.1f | %.1f |\n", res.SentPerSec, res.AckMS.P50, res.AckMS.P90, res.AckMS.P99, res.AckMS.Max)
	}
	if u := res.Server; u != nil {
		fmt.Fprintf(stdout, "\nserver process %d:\n", cfg.ServerPID)
		fmt.Fprintf(stdout, "| CPU s (sending) | µs per delivery | RSS before MiB | RSS connected MiB | RSS end MiB | KiB per connection |\n")
		fmt.Fprintf(stdout, "|---|---|---|---|---|---|\n")
		fmt.Fprintf(stdout, "| %.2f | %.3f | %.1f | %.1f | %.1f | %.1f |\n", u.CPUSeconds, u.CPUPerDeliveryUS,
			float64(u.RSSBeforeKiB)/1024, float64(u.RSSConnectedKiB)/1024, float64(u.RSSEndKiB)/1024, u.RSSPerConnKiB)
	}
	return nil
}

func rateText(r float64) string {
	if r <= 0 {
		return "as fast as acknowledged"
	}
	return fmt.Sprintf("%.0f msg/s", r)
}
