#!/usr/bin/env python3
"""Start-up time of `parley serve` on an empty database: from exec to the
first answer of /healthz (polled every millisecond), median of --runs
fresh starts, each in a new temporary directory. Also prints the size of
the binary.

  test/perf/startup.py --runs 10
"""
import argparse, os, signal, socket, statistics, subprocess, tempfile, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../../bin/parley"))
ap.add_argument("--runs", type=int, default=10)
a = ap.parse_args()

times = []
for _ in range(a.runs):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    with tempfile.TemporaryDirectory(prefix="parley-start-") as d:
        t0 = time.monotonic()
        p = subprocess.Popen([a.bin, "serve", "--addr", f"127.0.0.1:{port}", "--db", os.path.join(d, "new.db"), "--log-level", "warn"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() - t0 > 10:
                        raise SystemExit("no answer within 10 s")
                    time.sleep(0.001)
            times.append((time.monotonic() - t0) * 1000)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait()
print("start-up ms, each run:", " ".join(f"{t:.0f}" for t in times))
print(f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms; binary {os.path.getsize(a.bin) / 2**20:.1f} MiB ({a.bin})")
