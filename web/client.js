// Parley client: a small WebSocket client for Parley's native protocol
// (docs/PROTOCOL.md). The web page uses it; other sites can load it with
// <script src="https://your-parley/client.js"></script> and use
// window.ParleyClient. It queues commands until the connection is open,
// reconnects with jittered exponential backoff, says hello again with the
// session token, rejoins rooms, catches up on what was missed (no gap, no
// duplicate), and resends messages that were not acknowledged with their
// original client_id, so each is stored exactly once.
//
// Accounts: a page whose login cookie (HttpOnly, set by POST
// /api/auth/login) authenticates the connection gets a welcome with token
// "": the client then says hello with the nickname again on each
// reconnect, and the cookie authenticates it again. A moderator's kick
// closes the connection with 4001: the client reconnects after a short
// pause. A ban closes it with 4002: the client stops (state "closed") and
// emits "banned"; it does not reconnect.
"use strict";

/**
 * A stored chat message.
 * @typedef {Object} Message
 * @property {number} id        unique on the server
 * @property {string} room      room name, or "dm:a:b" for a direct conversation
 * @property {number} seq       position in room: 1, 2, 3, …
 * @property {string} from      sender nickname (set by the server)
 * @property {string} [to]      recipient of a direct message
 * @property {string} text      markdown source
 * @property {string} html      safe HTML rendered by the server
 * @property {string[]} mentions nicknames mentioned with @
 * @property {number} ts        server time, Unix milliseconds
 * @property {string} [client_id] the sender's idempotency key
 * @property {boolean} [deleted] a tombstone: a moderator deleted it (text and html are "")
 * @property {string} [deleted_by] who deleted it
 */

/**
 * Events: "state" (string: connecting | open | reconnecting | offline | closed),
 * "welcome" ({nickname, token, role, registered}: token is "" when the login
 * cookie authenticated the connection; role is "", "moderator" or "admin"),
 * "message" (Message), "mention" (Message),
 * "joined"/"left" ({room, nickname}), "typing" ({room, nickname}),
 * "announcement" ({id, text, html, ts, expires, starts}),
 * "announcement.deleted" ({id}),
 * "message.deleted" (Message: the tombstone that replaces the message of that room and seq),
 * "room.settings" ({room, slow_mode_ms}),
 * "muted" ({room, nickname, until (Unix ms, 0: until lifted), reason}),
 * "unmuted" ({room, nickname}), "role" ({nickname, role}: my role when nickname is mine),
 * "kicked" ({message}: a moderator closed the connection; the client reconnects shortly),
 * "banned" ({message}: the connection was closed by a ban, or hello was refused with
 * banned; the client does not reconnect),
 * "error" ({code, message}),
 * "auth" ({code, message}: hello was refused — bad_token, login_required (the
 * nickname is registered: log in with its password), banned, …; call login again),
 * "reset" ({room}: the last seq seen is no longer in the room's history; what
 * follows starts again from its newest page).
 * @typedef {"state"|"welcome"|"message"|"mention"|"joined"|"left"|"typing"|"announcement"|"announcement.deleted"|"message.deleted"|"room.settings"|"muted"|"unmuted"|"role"|"kicked"|"banned"|"error"|"auth"|"reset"} EventName
 */

(function (global) {
  const MIN_BACKOFF = 1000, MAX_BACKOFF = 30000, PAGE = 200, RECENT = 512;
  const KICK_PAUSE = 3000;              // reconnect this long after a kick
  const CLOSE_KICKED = 4001, CLOSE_BANNED = 4002;

  class ParleyError extends Error {
    /** @param {{code: string, message: string, retry_after_ms?: number}} f */
    constructor(f) { super(f.message); this.code = f.code; this.retryAfterMs = f.retry_after_ms || 0; }
  }

  class ParleyClient {
    /**
     * @param {Object} [opts]
     * @param {string} [opts.url]   WebSocket URL; default: /ws on this page's host
     * @param {string} [opts.token] a session token from an earlier welcome
     */
    constructor(opts = {}) {
      this.url = opts.url || (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
      this.token = opts.token || null;
      this.nickname = null;
      this.role = "";              // from welcome and role events: "", "moderator", "admin"
      this.registered = false;     // the nickname belongs to an account
      this.state = "closed";
      this._ws = null;
      this._listeners = new Map();
      this._ref = 0;
      this._waiting = new Map();   // ref → {resolve, reject, cmd}
      this._queue = [];            // commands waiting for a session
      this._outbox = new Map();    // client_id → pending send {cmd, resolve, reject}
      this._rooms = new Set();     // rooms joined
      this._lastSeq = new Map();   // room or DM key → highest seq delivered
      this._recent = new Map();    // room or DM key → seqs delivered lately (duplicates are dropped)
      this._catchingUp = new Map();// room → live messages held back during catch-up
      this._ready = false;         // hello done on this connection
      this._attempt = 0;
      this._timer = null;
      this._closed = true;
      this._nickForLogin = null;
      this._closeInfo = null;      // the kicked or banned error frame before a close
    }

    /** @param {EventName} name @param {(data: any) => void} fn */
    on(name, fn) {
      if (!this._listeners.has(name)) this._listeners.set(name, new Set());
      this._listeners.get(name).add(fn);
      return this;
    }

    /** @param {EventName} name @param {(data: any) => void} fn */
    off(name, fn) { this._listeners.get(name)?.delete(fn); return this; }

    _emit(name, data) {
      for (const fn of this._listeners.get(name) || []) {
        try { fn(data); } catch (e) { setTimeout(() => { throw e; }); }
      }
    }

    _setState(s) { if (this.state !== s) { this.state = s; this._emit("state", s); } }

    /**
     * Connects and says hello: with nickname if given, else with the token.
     * A page signed in with the login cookie passes its account's nickname.
     * Resolves with the welcome ({nickname, token, role?, registered?}).
     * @param {string} [nickname]
     * @returns {Promise<{nickname: string, token: string, role?: string, registered?: boolean}>}
     */
    login(nickname) {
      this._nickForLogin = nickname || null;
      if (nickname) this.token = null;
      return new Promise((resolve, reject) => {
        this._loginWaiter = { resolve, reject };
        if (this._ws && this._ws.readyState === WebSocket.OPEN) this._hello();
        else this.connect();
      });
    }

    /** Opens the connection (login does this for you). */
    connect() {
      this._closed = false;
      if (this._ws) return;
      clearTimeout(this._timer);
      this._setState(this._attempt ? "reconnecting" : "connecting");
      const ws = new WebSocket(this.url);
      this._ws = ws;
      ws.onopen = () => { this._attempt = 0; this._hello(); };
      ws.onmessage = (e) => {
        let f;
        try { f = JSON.parse(e.data); } catch { return; }
        this._onFrame(f);
      };
      ws.onclose = (e) => {
        if (this._ws !== ws) return;
        this._ws = null;
        this._ready = false;
        for (const w of this._waiting.values()) if (!w.cmd.client_id) w.reject(new ParleyError({ code: "unavailable", message: "connection lost" }));
        this._waiting.clear();
        const code = e && e.code, info = this._closeInfo;
        this._closeInfo = null;
        if (code === CLOSE_BANNED && !this._closed) {
          // A ban holds: reconnecting would only be refused again.
          this._closed = true;
          this._setState("closed");
          this._emit("banned", { code: "banned", message: (info && info.message) || (e && e.reason) || "banned" });
          return;
        }
        if (this._closed) { this._setState("closed"); return; }
        let delay = Math.min(MAX_BACKOFF, MIN_BACKOFF * 2 ** this._attempt++) * (0.5 + Math.random() / 2);
        if (code === CLOSE_KICKED) {
          delay = KICK_PAUSE;
          this._emit("kicked", { code: "kicked", message: (info && info.message) || (e && e.reason) || "kicked" });
        }
        this._setState(navigator.onLine === false ? "offline" : "reconnecting");
        this._timer = setTimeout(() => this.connect(), delay);
      };
    }

    /**
     * Checks that the connection still answers, and drops it to reconnect
     * if it does not within timeoutMs; while waiting to reconnect, it
     * reconnects now. Pages call it when the network comes back
     * (window "online"): a socket can look open long after its network
     * went away.
     * @param {number} [timeoutMs]
     */
    check(timeoutMs = 5000) {
      const ws = this._ws;
      if (this._closed) return;
      if (!ws) { clearTimeout(this._timer); this.connect(); return; }
      if (ws.readyState !== WebSocket.OPEN || !this._ready) return;
      const timer = setTimeout(() => {
        if (this._ws !== ws) return;
        try { ws.close(1000); } catch { /* already closing */ }
        ws.onclose({ code: 1006 }); // do not wait for a closing handshake that cannot arrive
      }, timeoutMs);
      this._send({ type: "rooms" }).then(() => clearTimeout(timer), () => clearTimeout(timer));
    }

    /** Closes the connection for good. */
    close() {
      this._closed = true;
      clearTimeout(this._timer);
      if (this._ws) this._ws.close(1000);
      else this._setState("closed");
    }

    _hello() {
      const cmd = this.token ? { type: "hello", token: this.token } : this._nickForLogin ? { type: "hello", nickname: this._nickForLogin } : null;
      if (!cmd) { this._setState("open"); return; }
      this._send(cmd).then((w) => {
        this.nickname = w.nickname;
        this.token = w.token || null;
        // The login cookie authenticated this hello (token ""): say hello
        // with the nickname next time, and the cookie will do it again.
        if (!w.token) this._nickForLogin = w.nickname;
        this.role = w.role || "";
        this.registered = !!w.registered;
        this._ready = true;
        this._setState("open");
        this._emit("welcome", { nickname: w.nickname, token: w.token || "", role: this.role, registered: this.registered });
        if (this._loginWaiter) { this._loginWaiter.resolve(w); this._loginWaiter = null; }
        this._resume();
      }, (err) => {
        if (err.code === "bad_token") this.token = null;
        if (err.code === "banned") {
          this._closed = true; // do not reconnect into the same refusal
          try { this._ws && this._ws.close(1000); } catch { /* closing already */ }
          this._emit("banned", err);
        }
        this._emit("auth", err);
        if (this._loginWaiter) { this._loginWaiter.reject(err); this._loginWaiter = null; }
      });
    }

    // _resume rejoins rooms, catches up on each, then sends what waited.
    async _resume() {
      const rooms = [...this._rooms];
      for (const room of rooms) this._catchingUp.set(room, []);
      const queued = this._queue.splice(0);
      try {
        await Promise.all(rooms.map((room) => this._catchUp(room, true)));
        const convs = await this._send({ type: "conversations" });
        await Promise.all(convs.rooms.filter((c) => this._lastSeq.has(c.name) && c.last_seq > this._lastSeq.get(c.name))
          .map((c) => this._catchUp(c.name)));
      } catch (err) {
        this._emit("error", err);
      } finally {
        for (const [room, held] of this._catchingUp) { this._catchingUp.delete(room); held.forEach((m) => this._deliver(m)); }
      }
      for (const q of queued) this._transmit(q);
      for (const p of this._outbox.values()) this._transmit(p);
    }

    // _catchUp resumes a room (joining it again) or a direct conversation
    // after its last seq: the server sends what was missed, then live
    // messages, with nothing twice at the seam. A reset (the point is no
    // longer in the history) starts over from the newest page.
    //
    // Messages deleted while away are below that seq, so resume does not
    // bring their tombstones: the newest page before it is read again and
    // its tombstones emitted as "message.deleted" (older ones come with
    // history, as tombstones, when scrolled to).
    async _catchUp(room, rejoin) {
      const seen = this._lastSeq.get(room) || 0;
      for (;;) {
        const after = this._lastSeq.get(room) || 0;
        if (!after && !rejoin) return;
        const page = await this._send({ type: "resume", room, after, limit: PAGE });
        rejoin = false;
        if (page.reset) { this._lastSeq.set(room, 0); this._recent.delete(room); this._emit("reset", { room }); return this._deliverAll(page); }
        this._deliverAll(page);
        if (!page.has_more) break;
      }
      if (seen > 0 && !room.startsWith("dm:")) { // only room messages are deleted
        const before = await this._send({ type: "history", room, before: seen + 1, limit: PAGE });
        before.messages.forEach((m) => { if (m.deleted) this._emit("message.deleted", m); });
      }
    }

    _deliverAll(page) { page.messages.forEach((m) => this._deliver(m)); }

    // _deliver emits each message once per room. The server sends a room's
    // messages in order; should one still come late (below the highest
    // seq seen), it is delivered if it was not before, not dropped.
    _deliver(m) {
      const held = this._catchingUp.get(m.room);
      if (held) { held.push(m); return; }
      const last = this._lastSeq.get(m.room) || 0;
      let recent = this._recent.get(m.room);
      if (!recent) { recent = new Set(); this._recent.set(m.room, recent); }
      if (m.seq <= last && (m.seq <= last - RECENT || recent.has(m.seq))) {
        // Seen before; a tombstone of it (from history or a resume) still
        // tells that it was deleted since.
        if (m.deleted) this._emit("message.deleted", m);
        return;
      }
      recent.add(m.seq);
      if (recent.size > RECENT) for (const s of recent) { if (s <= Math.max(last, m.seq) - RECENT) recent.delete(s); }
      if (m.seq > last) this._lastSeq.set(m.room, m.seq);
      this._emit("message", m);
    }

    _onFrame(f) {
      const w = f.ref && this._waiting.get(f.ref);
      if (w) {
        this._waiting.delete(f.ref);
        if (f.type === "error") w.reject(new ParleyError(f));
        else w.resolve(f);
        return;
      }
      switch (f.type) {
        case "message": this._deliver(f.msg); break;
        case "mention": this._emit("mention", f.msg); break;
        case "joined": case "left": case "typing": this._emit(f.type, { room: f.room, nickname: f.nickname }); break;
        case "announcement": this._emit("announcement", f.announcement); break;
        case "announcement.deleted": this._emit("announcement.deleted", f.announcement || {}); break;
        case "message.deleted": if (f.msg) this._emit("message.deleted", f.msg); break;
        case "room.settings": this._emit("room.settings", { room: f.room, slow_mode_ms: f.slow_mode_ms || 0 }); break;
        case "muted": this._emit("muted", { room: f.room, nickname: f.nickname, until: f.until || 0, reason: f.reason || "" }); break;
        case "unmuted": this._emit("unmuted", { room: f.room, nickname: f.nickname }); break;
        case "role":
          if (this.nickname && String(f.nickname).toLowerCase() === this.nickname.toLowerCase()) this.role = f.role || "";
          this._emit("role", { nickname: f.nickname, role: f.role || "" });
          break;
        case "error":
          // kicked and banned come just before the server closes the
          // connection (4001, 4002): onclose tells what happened.
          if (f.code === "kicked" || f.code === "banned") this._closeInfo = f;
          this._emit("error", new ParleyError(f));
          break;
      }
    }

    // _send writes a command now and resolves with its reply.
    _send(cmd) {
      return new Promise((resolve, reject) => this._transmit({ cmd, resolve, reject }, true));
    }

    _transmit(p, now) {
      if (!now && !this._ready) { this._queue.push(p); return; }
      if (!this._ws || this._ws.readyState !== WebSocket.OPEN) {
        if (p.cmd.client_id) return; // stays in the outbox until the next connection
        if (now) { p.reject(new ParleyError({ code: "unavailable", message: "not connected" })); return; }
        this._queue.push(p);
        return;
      }
      const ref = String(++this._ref);
      this._waiting.set(ref, p);
      this._ws.send(JSON.stringify({ ...p.cmd, ref }));
    }

    // _request queues a command until the session is ready.
    _request(cmd) {
      return new Promise((resolve, reject) => this._transmit({ cmd, resolve, reject }, false));
    }

    /**
     * Joins a room. Resolves with {room, members, last_seq, slow_mode_ms?}.
     * @param {string} room
     */
    async join(room) {
      const ack = await this._request({ type: "join", room });
      this._rooms.add(ack.room);
      if (!this._lastSeq.has(ack.room)) this._lastSeq.set(ack.room, ack.last_seq);
      return ack;
    }

    /** @param {string} room */
    async leave(room) {
      const ack = await this._request({ type: "leave", room });
      this._rooms.delete(ack.room);
      return ack;
    }

    /**
     * Sends a message to a room (or, with to, a direct message). While the
     * connection is down it waits; it is sent exactly once however often
     * the connection drops, thanks to its client_id.
     * @param {string} room
     * @param {string} text
     * @param {{clientId?: string}} [opts]
     * @returns {Promise<Message>}
     */
    send(room, text, opts = {}) { return this._post({ type: "send", room, text }, opts); }

    /**
     * Sends a direct message to a nickname.
     * @param {string} to @param {string} text @param {{clientId?: string}} [opts]
     * @returns {Promise<Message>}
     */
    dm(to, text, opts = {}) { return this._post({ type: "dm", to, text }, opts); }

    _post(cmd, opts) {
      cmd.client_id = opts.clientId || newClientID();
      return new Promise((resolve, reject) => {
        const p = {
          cmd,
          resolve: (ack) => { this._outbox.delete(cmd.client_id); this._deliver(ack.msg); resolve(ack.msg); },
          reject: (err) => { this._outbox.delete(cmd.client_id); reject(err); },
        };
        this._outbox.set(cmd.client_id, p);
        if (this._ready) this._transmit(p, true);
      });
    }

    /** The client_ids of messages not acknowledged yet. @returns {string[]} */
    pending() { return [...this._outbox.keys()]; }

    /**
     * A page of history: {room, messages (oldest first), has_more}.
     * @param {string|{with: string}} target a room or DM key, or {with: nickname}
     * @param {{before?: number, after?: number, limit?: number}} [opts]
     */
    history(target, opts = {}) {
      const cmd = typeof target === "string" ? { type: "history", room: target } : { type: "history", with: target.with };
      return this._request(Object.assign(cmd, opts));
    }

    /** Says "typing" to a room, or to a person with {to}. @param {string|{to: string}} target */
    typing(target) {
      const cmd = typeof target === "string" ? { type: "typing", room: target } : { type: "typing", to: target.to };
      if (this._ready && this._ws && this._ws.readyState === WebSocket.OPEN) this._ws.send(JSON.stringify(cmd));
    }

    /** Every room with member counts. */
    rooms() { return this._request({ type: "rooms" }).then((r) => r.rooms); }

    /** The direct conversations of this user: [{name, with, last_seq}]. */
    conversations() { return this._request({ type: "conversations" }).then((r) => r.rooms); }

    /** Who is in a room. @param {string} room */
    presence(room) { return this._request({ type: "presence", room }).then((r) => r.members); }

    /** The highest seq delivered in a room or DM conversation. @param {string} room */
    lastSeq(room) { return this._lastSeq.get(room) || 0; }
  }

  /**
   * A new client_id: the time in milliseconds (9 base-36 digits, so ids
   * sort in the order they were made) and 64 random bits. Ids that grow
   * with time are added at the end of the server's idempotency index
   * instead of at a random place in it: far fewer pages written per
   * message than with a random UUID.
   */
  function newClientID() {
    const rnd = new Uint32Array(2);
    if (global.crypto && crypto.getRandomValues) crypto.getRandomValues(rnd);
    else { rnd[0] = Math.random() * 2 ** 32; rnd[1] = Math.random() * 2 ** 32; }
    const hex = (n) => n.toString(16).padStart(8, "0");
    return Date.now().toString(36).padStart(9, "0") + "-" + hex(rnd[0]) + hex(rnd[1]);
  }

  /** The conversation key of the direct conversation between a and b. */
  ParleyClient.dmKey = (a, b) => { const [x, y] = [a.toLowerCase(), b.toLowerCase()].sort(); return "dm:" + x + ":" + y; };
  ParleyClient.ParleyError = ParleyError;
  ParleyClient.newClientID = newClientID;
  global.ParleyClient = ParleyClient;
})(typeof window !== "undefined" ? window : globalThis);
