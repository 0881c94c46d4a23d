#!/usr/bin/env python3
"""Runs `parley bench` against a fresh `parley serve` several times and
prints each run and the medians, as recorded in docs/PERFORMANCE.md.

Each run starts its own server (empty database in a temporary directory),
pinned with taskset to --server-cpus, waits until it answers /healthz, runs
the load generator pinned to --bench-cpus with --server-pid (so the server's
CPU over the send phase and its memory are measured), and ends the server
by its PID.

  test/perf/run.py --runs 3 -- --subscribers 1000 --publishers 4 --duration 10s
  test/perf/run.py --serve-args '--debug-addr 127.0.0.1:16060' -- ...

Everything after -- goes to `parley bench`.
"""
import argparse, json, os, shlex, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../../bin/parley"))
ap.add_argument("--bench-bin", default="", help="another parley binary for the load generator (default: --bin), to compare servers with one generator")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--server-cpus", default="0")
ap.add_argument("--bench-cpus", default="1")
ap.add_argument("--serve-args", default="", help="extra flags for parley serve")
ap.add_argument("--label", default="")
ap.add_argument("--metrics", action="store_true",
                help="read the server's /metrics after the run: store append latency p50/p99 (parley_store_append_duration_seconds, interpolated in its buckets)")
ap.add_argument("bench", nargs=argparse.REMAINDER)
a = ap.parse_args()
bench_args = [x for x in a.bench if x != "--"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def one_run():
    with tempfile.TemporaryDirectory(prefix="parley-perf-") as d:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        serve = ["taskset", "-c", a.server_cpus, a.bin, "serve", "--addr", f"127.0.0.1:{port}",
                 "--db", os.path.join(d, "bench.db"), "--rate", "1000000", "--burst", "1000000",
                 "--log-level", "warn", "--outbox-messages", "100000", "--outbox-bytes", str(64 << 20)] + shlex.split(a.serve_args)
        t0 = time.monotonic()
        srv = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "serve.log"), "w"))
        try:
            for _ in range(500):
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.01)
            else:
                raise SystemExit("server did not start: " + open(os.path.join(d, "serve.log")).read())
            startup = time.monotonic() - t0
            cmd = ["taskset", "-c", a.bench_cpus, a.bench_bin or a.bin, "bench", "--url", url, "--json", "--quiet",
                   "--server-pid", str(srv.pid)] + bench_args
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if out.returncode != 0:
                raise SystemExit("bench failed: " + out.stderr)
            r = json.loads(out.stdout)
            r["startup_s"] = startup
            if a.metrics:
                r["store_ms"] = histogram_quantiles(urllib.request.urlopen(url + "/metrics", timeout=5).read().decode(),
                                                    "parley_store_append_duration_seconds", (0.5, 0.99))
            return r
        finally:
            srv.send_signal(signal.SIGTERM)
            try:
                srv.wait(timeout=10)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()


def histogram_quantiles(text, name, qs):
    """Quantiles (ms) of a Prometheus histogram, interpolated linearly
    within its cumulative buckets."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    out = {}
    for q in qs:
        want, lo, below = q * total, 0.0, 0.0
        val = float("nan")
        for le, n in buckets:
            if n >= want and total > 0:
                hi = le if le != float("inf") else lo
                val = lo + (hi - lo) * ((want - below) / (n - below) if n > below else 1)
                break
            lo, below = le, n
        out[f"p{round(q * 100)}"] = val * 1000
    return out


cols = [("deliveries/s", lambda r: r["deliveries_per_s"], "{:,.0f}"),
        ("server µs/delivery", lambda r: r["server"]["cpu_per_delivery_us"], "{:.3f}"),
        ("server CPU s", lambda r: r["server"]["cpu_s"], "{:.2f}"),
        ("bench CPU s", lambda r: r["bench_cpu_s"], "{:.2f}"),
        ("p50 ms", lambda r: r["latency_ms"]["p50"], "{:.1f}"),
        ("p99 ms", lambda r: r["latency_ms"]["p99"], "{:.1f}"),
        ("max ms", lambda r: r["latency_ms"]["max"], "{:.1f}"),
        ("refused", lambda r: r["refused"], "{}"),
        ("lost", lambda r: r["lost"], "{}"),
        ("dup", lambda r: r["duplicated"], "{}"),
        ("disc", lambda r: r["disconnected"], "{}"),
        ("sent", lambda r: r["sent"], "{:,}"),
        ("stored msg/s", lambda r: r["sent_per_s"], "{:,.0f}"),
        ("ack p50 ms", lambda r: r["ack_ms"]["p50"], "{:.1f}"),
        ("ack p99 ms", lambda r: r["ack_ms"]["p99"], "{:.1f}"),
        ("server RSS end MiB", lambda r: r["server"]["rss_end_kib"] / 1024, "{:.1f}"),
        ("KiB/conn", lambda r: r["server"]["rss_per_conn_kib"], "{:.1f}")]

if a.metrics:
    cols += [("store p50 ms", lambda r: r["store_ms"]["p50"], "{:.1f}"),
             ("store p99 ms", lambda r: r["store_ms"]["p99"], "{:.1f}")]

print("command: test/perf/run.py", " ".join(shlex.quote(x) for x in sys.argv[1:]), flush=True)
runs = []
print("| run | " + " | ".join(c[0] for c in cols) + " |")
print("|---" * (len(cols) + 1) + "|", flush=True)
for i in range(a.runs):
    r = one_run()
    runs.append(r)
    print(f"| {i+1} | " + " | ".join(f.format(g(r)) for _, g, f in cols) + " |", flush=True)
print("| median | " + " | ".join(f.format(statistics.median(g(r) for r in runs)) for _, g, f in cols) + " |")
if a.label:
    with open(f"/tmp/perf-{a.label}.json", "w") as f:
        json.dump(runs, f)
