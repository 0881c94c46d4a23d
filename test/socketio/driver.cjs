// driver.cjs: one official socket.io-client, driven by Parley's Go tests
// through JSON lines. Usage:
//
//   node driver.cjs VERSION URL NAMESPACE TRANSPORT [EVENT...]
//
// VERSION is 4, 2 or 1 (socket.io-client 4.8, 2.5 or 1.7.4); TRANSPORT is
// polling, websocket or upgrade (polling first, then the upgrade); EVENTs
// are the server event names to listen for (clients before 4.x have no
// onAny). Every line on stdin is a command:
//
//   {"op":"emit","id":1,"name":"send","args":[{...}],"ack":true}
//   {"op":"transport"}   reports the transport in use
//   {"op":"close"}
//
// and every line on stdout is something that happened:
//
//   {"ev":"connect","transport":"polling"}  {"ev":"upgrade","transport":"websocket"}
//   {"ev":"event","name":"message","args":[...]}  {"ev":"ack","id":1,"args":[...]}
//   {"ev":"disconnect","reason":"..."}  {"ev":"connect_error","message":"..."}
"use strict";

const readline = require("readline");

const [version, url, nsp, transport, ...events] = process.argv.slice(2);
// What the client went through, on stderr with milliseconds since the
// process started: a failing Go test prints it, so a connect that never
// came says where it stopped (node itself slow to start, the transport
// never open, the namespace never answered).
const trace = (what) => process.stderr.write(`${Math.round(performance.now())} ms: ${what}\n`);
trace(`node up: socket.io-client ${version}, ${transport}, ${url}${nsp}`);
const io = require({ 4: "sio4", 2: "sio2", 1: "sio1" }[version]);
trace("socket.io-client loaded");

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

// Reconnection is on, with a short connect timeout: zishang520/socket.io
// v3.0.2 can drop a CONNECT that arrives before its connection handler runs
// (under load), and clients recover by timing out and connecting again, as
// real clients do with their defaults.
const opts = {
  forceNew: true,
  reconnection: true,
  reconnectionDelay: 100,
  reconnectionDelayMax: 500,
  timeout: 3000,
  transports: transport === "upgrade" ? ["polling", "websocket"] : [transport],
  upgrade: transport === "upgrade",
};
const socket = io(url + (nsp === "/" ? "" : nsp), opts);
const manager = socket.io;
manager.on("open", () => trace(`engine open (${manager.engine.transport.name})`));
manager.on("error", (err) => trace(`engine error: ${(err && err.message) || err}`));
manager.on("reconnect_attempt", (n) => trace(`reconnect attempt ${n}`));

socket.on("connect", () => {
  trace("connected");
  out({ ev: "connect", transport: manager.engine.transport.name });
  manager.engine.on("upgrade", (t) => out({ ev: "upgrade", transport: t.name }));
});
socket.on("disconnect", (reason) => { trace(`disconnect: ${reason}`); out({ ev: "disconnect", reason: String(reason) }); });
socket.on("connect_error", (err) => { trace(`connect_error: ${(err && err.message) || err}`); out({ ev: "connect_error", message: String((err && err.message) || err) }); });
if (socket.onAny) {
  socket.onAny((name, ...args) => out({ ev: "event", name, args }));
} else {
  for (const name of events) socket.on(name, (...args) => out({ ev: "event", name, args }));
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) { out({ ev: "driver_error", message: "bad command: " + e.message }); return; }
  switch (cmd.op) {
    case "emit": {
      const args = [cmd.name, ...(cmd.args || [])];
      if (cmd.ack) args.push((...reply) => out({ ev: "ack", id: cmd.id, args: reply }));
      socket.emit(...args);
      break;
    }
    case "transport":
      out({ ev: "transport", transport: manager.engine ? manager.engine.transport.name : "" });
      break;
    case "close":
      socket.close();
      setTimeout(() => process.exit(0), 50);
      break;
    default:
      out({ ev: "driver_error", message: "unknown op " + cmd.op });
  }
}).on("close", () => { socket.close(); process.exit(0); });
