#!/usr/bin/env python3
"""Cross-node fan-out: N parley nodes on one PostgreSQL and one broker.

Starts a throw-away PostgreSQL (initdb in a temporary directory, as the
postgres user when run as root), a broker (nats-server or redis-server) and
--nodes parley processes on free loopback ports, then runs `parley bench`
with the publishers on node 1 and the subscribers spread over the other
nodes, so that every delivery crosses the broker. Each run starts everything
afresh; medians of --runs are printed, with every run.

  make build
  test/perf/cluster.py --broker nats --runs 3 -- --subscribers 1000 --publishers 4 --rate 1000 --duration 10s
  test/perf/cluster.py --broker none --runs 3 -- ...   # one node on PostgreSQL, no broker: the baseline
"""
import argparse, glob, json, os, pwd, shlex, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../../bin/parley"))
ap.add_argument("--broker", choices=["nats", "redis", "none"], default="nats")
ap.add_argument("--nodes", type=int, default=3)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--serve-args", default="", help="extra flags for every parley serve")
ap.add_argument("bench", nargs=argparse.REMAINDER)
a = ap.parse_args()
bench_args = a.bench[1:] if a.bench[:1] == ["--"] else a.bench


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, what):
    for _ in range(1500):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"{what} did not listen on {port}")


def as_postgres():
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid}


def one_run():
    procs = []
    with tempfile.TemporaryDirectory(prefix="parley-cluster-") as d:
        os.chmod(d, 0o777)
        try:
            pgbin = os.path.dirname(sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))[-1])
            pgdata, pgport = os.path.join(d, "pg"), free_port()
            run_as = as_postgres()
            subprocess.run([f"{pgbin}/initdb", "-D", pgdata, "-U", "parley", "--auth=trust", "-E", "UTF8",
                            "--locale=C.UTF-8", "--no-sync"], check=True, stdout=subprocess.DEVNULL, cwd=d, **run_as)
            pg = subprocess.Popen([f"{pgbin}/postgres", "-D", pgdata, "-p", str(pgport), "-h", "127.0.0.1", "-k", d,
                                   "-c", "max_connections=200"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d, **run_as)
            procs.append(pg)
            wait_port(pgport, pg, "postgres")
            for _ in range(200):
                if subprocess.run([f"{pgbin}/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(pgport)]).returncode == 0:
                    break
                time.sleep(0.05)
            subprocess.run([f"{pgbin}/createdb", "-h", "127.0.0.1", "-p", str(pgport), "-U", "parley", "parley"], check=True)
            store = f"postgres://parley@127.0.0.1:{pgport}/parley?sslmode=disable"

            broker, nodes = "", 1
            if a.broker != "none":
                bport, nodes = free_port(), a.nodes
                if a.broker == "nats":
                    b = subprocess.Popen([next(p for p in ["/usr/sbin/nats-server", "nats-server"] if os.path.exists(p) or p == "nats-server"),
                                          "-a", "127.0.0.1", "-p", str(bport)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    broker = f"nats://127.0.0.1:{bport}"
                else:
                    b = subprocess.Popen(["redis-server", "--port", str(bport), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    broker = f"redis://127.0.0.1:{bport}/0"
                procs.append(b)
                wait_port(bport, b, a.broker)

            urls, pids = [], []
            for i in range(nodes):
                port = free_port()
                args = [a.bin, "serve", "--addr", f"127.0.0.1:{port}", "--store", store, "--rate", "1000000", "--burst", "1000000",
                        "--log-level", "warn", "--outbox-messages", "100000", "--outbox-bytes", str(64 << 20)]
                if broker:
                    args += ["--broker", broker]
                args += shlex.split(a.serve_args)
                n = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, f"node{i}.log"), "w"))
                procs.append(n)
                wait_port(port, n, f"node {i + 1}")
                urls.append(f"http://127.0.0.1:{port}")
                pids.append(n.pid)
            time.sleep(1)  # the nodes meet (heartbeats)
            cpu0 = [cpu_seconds(p) for p in pids]
            subs = urls[1:] if len(urls) > 1 else urls
            cmd = [a.bin, "bench", "--url", ",".join(subs), "--publish-url", urls[0], "--json", "--quiet"] + bench_args
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if out.returncode != 0:
                raise SystemExit("bench failed: " + out.stderr + "\n" + open(os.path.join(d, "node0.log")).read()[-3000:])
            res = json.loads(out.stdout)
            res["nodes_cpu_s"] = sum(cpu_seconds(p) for p in pids) - sum(cpu0)
            return res
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


cols = [("deliveries/s", lambda r: r["deliveries_per_s"], "{:,.0f}"),
        ("p50 ms", lambda r: r["latency_ms"]["p50"], "{:.1f}"),
        ("p99 ms", lambda r: r["latency_ms"]["p99"], "{:.1f}"),
        ("max ms", lambda r: r["latency_ms"]["max"], "{:.1f}"),
        ("refused", lambda r: r["refused"], "{}"),
        ("lost", lambda r: r["lost"], "{}"),
        ("dup", lambda r: r["duplicated"], "{}"),
        ("sent", lambda r: r["sent"], "{:,}"),
        ("nodes CPU s", lambda r: r["nodes_cpu_s"], "{:.2f}"),
        ("bench CPU s", lambda r: r.get("bench_cpu_s", 0), "{:.2f}")]
runs = []
print(f"Command: {' '.join(shlex.quote(x) for x in sys.argv)}")
print("| run | " + " | ".join(c[0] for c in cols) + " |")
print("|---" * (len(cols) + 1) + "|")
for i in range(a.runs):
    r = one_run()
    runs.append(r)
    print(f"| {i + 1} | " + " | ".join(f.format(get(r)) for _, get, f in cols) + " |", flush=True)
print("| median | " + " | ".join(f.format(statistics.median(get(r) for r in runs)) for _, get, f in cols) + " |")
