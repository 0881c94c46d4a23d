// refserver.cjs: the reference Node socket.io 4 server of the Socket.IO
// benchmark (bench.cjs). It serves the subset of Parley's Socket.IO event
// API the benchmark uses — hello, join, send with acks, message events to
// the room — the way a Node chat server usually does it: socket.io rooms
// and io.to(room).emit. No persistence: it does less work than Parley.
//
//   node refserver.cjs PORT
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 3000);
const server = http.createServer();
const io = new Server(server, { cors: { origin: true, credentials: true } });
const seqs = new Map();
let nextID = 1;

io.on("connection", (socket) => {
  socket.on("hello", (p, ack) => {
    socket.data.nickname = String((p && p.nickname) || "guest");
    if (typeof ack === "function") ack({ type: "welcome", nickname: socket.data.nickname, token: "-" });
  });
  socket.on("join", (p, ack) => {
    const room = String(p && p.room);
    socket.join(room);
    if (typeof ack === "function") ack({ type: "ack", room, members: [], last_seq: seqs.get(room) || 0 });
  });
  socket.on("send", (p, ack) => {
    const room = String(p && p.room);
    if (!socket.rooms.has(room)) {
      if (typeof ack === "function") ack({ type: "error", code: "not_joined", message: "join first" });
      return;
    }
    const seq = (seqs.get(room) || 0) + 1;
    seqs.set(room, seq);
    const msg = { id: nextID++, room, seq, from: socket.data.nickname, text: String(p.text), html: "", mentions: [], ts: Date.now(), client_id: p.client_id };
    io.to(room).emit("message", msg);
    if (typeof ack === "function") ack({ type: "ack", msg });
  });
});

server.listen(port, "127.0.0.1", () => process.stdout.write("listening " + port + "\n"));
process.on("SIGTERM", () => process.exit(0));
