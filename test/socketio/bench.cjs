// bench.cjs: Socket.IO fan-out benchmark. N socket.io-client 4 sockets
// (WebSocket only) join one room; one more socket publishes at a fixed
// rate; every subscriber counts what it receives. The same run goes
// against Parley and against the reference Node socket.io 4 server
// (refserver.cjs), each started here on loopback — and, for comparison,
// against Parley's native endpoint (/ws) with as many plain WebSocket
// clients (target "parley-native", the ws package) — and the table compares
// deliveries per second, lost and doubled deliveries, latency, and the
// server's CPU time per delivery (read from /proc, user + system).
//
//   node bench.cjs --parley ../../bin/parley [--clients 1000] [--rate 40]
//                  [--duration 10] [--runs 3] [--size 64]
//                  [--targets parley,node,parley-native]
//
// Every loop here is bounded: connections time out, runs end after
// --duration plus a drain of 3 s, and servers are stopped by their PID.
"use strict";

const { spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const http = require("http");
const io = require("sio4");
const WebSocket = require("ws");

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith("--") ? all[i + 1] : "true"]);
  return acc;
}, []));
const N = Number(args.clients || 1000);
const RATE = Number(args.rate || 40);
const DURATION = Number(args.duration || 10);
const RUNS = Number(args.runs || 3);
const SIZE = Number(args.size || 64);
const TARGETS = (args.targets || "parley,node,parley-native").split(",");
const TICK = 100; // clock ticks per second on Linux (getconf CLK_TCK)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let retries = 0; // connection attempts that had to be repeated

function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICK; // utime, stime
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => { res.resume(); resolve(res.statusCode); });
    req.on("error", () => resolve(0));
    req.setTimeout(1000, () => { req.destroy(); resolve(0); });
  });
}

async function startServer(target, port) {
  let child;
  if (target.startsWith("parley")) {
    const db = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "parley-bench-")), "bench.db");
    child = spawn(path.resolve(args.parley), ["serve", "--addr", `127.0.0.1:${port}`, "--db", db,
      "--rate", "1000000", "--burst", "1000000", "--log-level", "warn"].concat(args["debug-addr"] ? ["--debug-addr", args["debug-addr"]] : []), { stdio: ["ignore", "ignore", "inherit"] });
  } else {
    child = spawn(process.execPath, [path.join(__dirname, "refserver.cjs"), String(port)], { stdio: ["ignore", "ignore", "inherit"] });
  }
  for (let i = 0; i < 100; i++) {
    if (await get(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`) === 200) return child;
    await sleep(100);
  }
  child.kill("SIGKILL");
  throw new Error(target + " did not start");
}

// A client of either kind: onMessage(fn(msg)), send(text, clientID, done(err)), close().
function connect(target, url, nick) {
  return target === "parley-native" ? connectNative(url, nick) : connectSocketIO(url, nick);
}

function connectSocketIO(url, nick) {
  return new Promise((resolve, reject) => {
    // As real clients do: time out a connect that hangs and try again (the
    // library can drop a CONNECT under load; see docs/ARCHITECTURE.md).
    const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: true, reconnectionDelay: 200, timeout: 5000 });
    s.io.on("reconnect_attempt", () => { retries++; });
    const timer = setTimeout(() => reject(new Error("connect timeout " + nick)), 30000);
    s.once("connect", () => {
      s.emit("hello", { nickname: nick }, () => s.emit("join", { room: "lobby" }, (ack) => {
        clearTimeout(timer);
        if (ack && ack.type === "error") { reject(new Error(ack.message)); return; }
        resolve({
          onMessage: (fn) => s.on("message", fn),
          send: (text, id, done) => s.emit("send", { room: "lobby", text, client_id: id }, (a) => done(a && a.type === "error")),
          close: () => s.close(),
        });
      }));
    });
  });
}

function connectNative(url, nick) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws") + "/ws");
    const timer = setTimeout(() => reject(new Error("connect timeout " + nick)), 30000);
    const waiting = new Map();
    let ref = 0, onMessage = () => {};
    const request = (cmd, done) => { const r = String(++ref); waiting.set(r, done); ws.send(JSON.stringify({ ...cmd, ref: r })); };
    ws.on("error", (e) => { clearTimeout(timer); reject(e); });
    ws.on("message", (data) => {
      const f = JSON.parse(data);
      if (f.ref && waiting.has(f.ref)) { const done = waiting.get(f.ref); waiting.delete(f.ref); done(f); return; }
      if (f.type === "message") onMessage(f.msg);
    });
    ws.on("open", () => request({ type: "hello", nickname: nick }, () => request({ type: "join", room: "lobby" }, (ack) => {
      clearTimeout(timer);
      if (ack.type === "error") { reject(new Error(ack.message)); return; }
      resolve({
        onMessage: (fn) => { onMessage = fn; },
        send: (text, id, done) => request({ type: "send", room: "lobby", text, client_id: id }, (a) => done(a.type === "error")),
        close: () => ws.close(),
      });
    })));
  });
}

async function run(target, port) {
  const server = await startServer(target, port);
  retries = 0;
  const url = `http://127.0.0.1:${port}`;
  const subs = [];
  const counts = [];       // per subscriber: Uint8Array of times each message index arrived
  const latencies = [];
  const total = Math.ceil(RATE * DURATION);
  let delivered = 0, doubled = 0, lastDelivery = 0;
  try {
    for (let i = 0; i < N; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(N, i + 50); j++) batch.push(connect(target, url, "sub" + j));
      subs.push(...await Promise.all(batch));
    }
    subs.forEach((s, k) => {
      const seen = new Uint8Array(total);
      counts.push(seen);
      s.onMessage((m) => {
        if (!m.text.startsWith("bench ")) return;
        const sp = m.text.indexOf(" ", 6);
        const idx = Number(m.text.slice(6, sp));
        const t0 = Number(m.text.slice(sp + 1, m.text.indexOf(" ", sp + 1)));
        if (seen[idx]++) doubled++;
        delivered++;
        lastDelivery = Date.now();
        if ((idx + k) % 50 === 0) latencies.push(lastDelivery - t0); // a 2% sample
      });
    });
    const pub = await connect(target, url, "publisher");
    await sleep(1000);
    const pad = "x".repeat(Math.max(0, SIZE - 30));
    const cpu0 = cpuSeconds(server.pid), own0 = process.cpuUsage(), start = Date.now();
    let acked = 0, errors = 0;
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      pub.send(`bench ${i} ${Date.now()} ${pad}`, "b" + i, (failed) => { if (failed) errors++; else acked++; });
    }
    const sendEnd = Date.now();
    for (let i = 0; i < 30 && delivered < total * N; i++) await sleep(100); // drain, at most 3 s
    const cpu1 = cpuSeconds(server.pid), own = process.cpuUsage(own0);
    const rss = rssKiB(server.pid);
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : NaN;
    const elapsed = (Math.max(lastDelivery, sendEnd) - start) / 1000;
    pub.close();
    return {
      target, clients: N, rate: RATE, sent: total, acked, errors, expected: total * N, delivered,
      lost: total * N - (delivered - doubled), doubled,
      deliveriesPerSec: delivered / elapsed,
      serverCPUs: cpu1 - cpu0, usPerDelivery: ((cpu1 - cpu0) * 1e6) / Math.max(1, delivered),
      clientCPUs: (own.user + own.system) / 1e6, serverRSSMiB: rss / 1024, connectRetries: retries,
      p50: pct(0.5), p99: pct(0.99), max: latencies.length ? latencies[latencies.length - 1] : NaN,
    };
  } finally {
    subs.forEach((s) => s.close());
    server.kill("SIGTERM");
    await new Promise((r) => { server.once("exit", r); setTimeout(() => { server.kill("SIGKILL"); r(); }, 5000); });
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

(async () => {
  const rows = [];
  let port = 20000 + Math.floor(Math.random() * 20000);
  for (const target of TARGETS) {
    const results = [];
    for (let r = 0; r < RUNS; r++) {
      const res = await run(target, port++);
      process.stderr.write(JSON.stringify(res) + "\n");
      results.push(res);
    }
    rows.push({
      target, runs: RUNS,
      deliveriesPerSec: median(results.map((x) => x.deliveriesPerSec)),
      usPerDelivery: median(results.map((x) => x.usPerDelivery)),
      lost: Math.max(...results.map((x) => x.lost)), doubled: Math.max(...results.map((x) => x.doubled)),
      p50: median(results.map((x) => x.p50)), p99: median(results.map((x) => x.p99)),
      clientCPUs: median(results.map((x) => x.clientCPUs)), serverRSSMiB: median(results.map((x) => x.serverRSSMiB)),
      connectRetries: results.reduce((a, x) => a + x.connectRetries, 0),
    });
  }
  if (args.json) { process.stdout.write(JSON.stringify(rows, null, 2) + "\n"); return; }
  console.log(`${N} subscribers in one room (socket.io-client 4 over WebSocket; plain WebSocket for parley-native), ${RATE} msg/s of ${SIZE} B for ${DURATION} s; medians of ${RUNS} runs`);
  console.log("| server | deliveries/s | server CPU per delivery | lost | doubled | p50 ms | p99 ms | server RSS MiB | load generator CPU s | connects retried (all runs) |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const name = { parley: "Parley, Socket.IO", node: "Node socket.io 4.8.4", "parley-native": "Parley, native /ws" }[r.target];
    console.log(`| ${name} | ${Math.round(r.deliveriesPerSec)} | ${r.usPerDelivery.toFixed(2)} µs | ${r.lost} | ${r.doubled} | ${r.p50} | ${r.p99} | ${r.serverRSSMiB.toFixed(0)} | ${r.clientCPUs.toFixed(1)} | ${r.connectRetries} |`);
  }
})().catch((e) => { console.error(e); process.exit(1); });
