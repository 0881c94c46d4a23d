// Parley's small web page: join the lobby with a nickname and chat.
// It speaks the native protocol (docs/PROTOCOL.md) over /ws. User text is
// only ever set as textContent; the one HTML inserted is the server's
// rendered, sanitised message (msg.html / announcement.html).
"use strict";

const ROOM = "lobby";
const $ = (id) => document.getElementById(id);
const store = {
  get(k) { try { return localStorage.getItem("parley." + k); } catch { return null; } },
  set(k, v) { try { v == null ? localStorage.removeItem("parley." + k) : localStorage.setItem("parley." + k, v); } catch { /* private mode */ } },
};

const state = {
  ws: null, me: null, ref: 0, pending: new Map(), // ref → callback
  seen: new Map(),      // message id → <li>
  byClientID: new Map(),// client_id → <li> while pending
  oldestSeq: 0, retry: 0, typingSentAt: 0, typers: new Map(), title: document.title, unseen: 0,
};

function setStatus(text, cls) { const s = $("status"); s.textContent = text; s.className = "status " + cls; }

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

// request sends a command and calls done(frame) with the reply or error.
function request(cmd, done) {
  const ref = String(++state.ref);
  if (done) state.pending.set(ref, done);
  cmd.ref = ref;
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(cmd));
  return ref;
}

function connect() {
  setStatus(state.retry ? "reconnecting…" : "connecting…", state.retry ? "reconnecting" : "connecting");
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  state.ws = ws;
  ws.onopen = () => { state.retry = 0; hello(); };
  ws.onmessage = (e) => { try { onFrame(JSON.parse(e.data)); } catch (err) { console.error(err); } };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    state.pending.clear();
    const delay = Math.min(30000, 1000 * 2 ** state.retry++) * (0.5 + Math.random() / 2);
    setStatus("reconnecting in " + Math.round(delay / 1000) + " s…", "reconnecting");
    setTimeout(connect, delay);
  };
}

function hello() {
  const token = store.get("token"), nick = store.get("nick");
  if (!token && !nick) { showLogin(); return; }
  const cmd = token ? { type: "hello", token } : { type: "hello", nickname: nick };
  request(cmd, (f) => {
    if (f.type === "error") {
      if (f.code === "bad_token") store.set("token", null);
      showLogin(f.message);
      return;
    }
    state.me = f.nickname;
    store.set("nick", f.nickname);
    store.set("token", f.token);
    setStatus("connected as " + f.nickname, "connected");
    $("login").hidden = true;
    $("chat").hidden = false;
    join();
  });
}

function showLogin(message) {
  $("chat").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  const input = $("nick");
  if (!input.value) input.value = store.get("nick") || "guest" + Math.floor(1000 + Math.random() * 9000);
  input.focus();
  setStatus("not signed in", "connecting");
}

function join() {
  request({ type: "join", room: ROOM }, (f) => {
    if (f.type === "error") { toast(f.message); return; }
    setMembers(f.members);
    request({ type: "history", room: ROOM, limit: 50 }, (h) => {
      if (h.type === "error") { toast(h.message); return; }
      h.messages.forEach((m) => addMessage(m));
      if (!state.oldestSeq && h.messages.length) state.oldestSeq = h.messages[0].seq;
      $("older").hidden = !h.has_more;
      scrollToEnd(true);
      resendPending();
      $("text").focus();
    });
  });
}

function onFrame(f) {
  if (f.ref && state.pending.has(f.ref)) {
    const done = state.pending.get(f.ref);
    state.pending.delete(f.ref);
    done(f);
    return;
  }
  switch (f.type) {
    case "message": if (f.msg.room === ROOM) addMessage(f.msg, true); break;
    case "mention": if (document.hidden) { state.unseen++; document.title = "(" + state.unseen + ") " + state.title; } break;
    case "joined": if (f.room === ROOM) { addMember(f.nickname, true); system(f.nickname + " joined"); } break;
    case "left": if (f.room === ROOM) { addMember(f.nickname, false); system(f.nickname + " left"); } break;
    case "typing": if (f.room === ROOM) showTyping(f.nickname); break;
    case "announcement": showAnnouncement(f.announcement); break;
    case "error":
      toast(f.code === "rate_limited" ? "Slow down — try again in " + Math.ceil((f.retry_after_ms || 1000) / 1000) + " s" : f.message);
      break;
  }
}

function messageItem(m) {
  const li = document.createElement("li");
  li.className = "msg";
  const meta = document.createElement("div");
  meta.className = "meta";
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = m.from;
  const time = document.createElement("time");
  const d = m.ts ? new Date(m.ts) : new Date();
  time.dateTime = d.toISOString();
  time.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(from, time);
  const body = document.createElement("div");
  body.className = "body";
  if (m.html != null) body.innerHTML = m.html; // rendered and sanitised by the server
  else body.textContent = m.text;
  li.append(meta, body);
  return li;
}

function decorate(li, m) {
  const me = (state.me || "").toLowerCase();
  li.classList.toggle("mine", m.from.toLowerCase() === me);
  li.classList.toggle("mentioned", (m.mentions || []).some((n) => n.toLowerCase() === me));
}

// addMessage shows a stored message once, in seq order; it replaces the
// pending copy of one of ours.
function addMessage(m, live) {
  if (state.seen.has(m.id)) return;
  const atEnd = isAtEnd();
  let li = m.client_id && state.byClientID.get(m.client_id);
  if (li) {
    state.byClientID.delete(m.client_id);
    li.replaceWith(li = messageItem(m));
  } else {
    li = messageItem(m);
    const list = $("messages");
    let before = null;
    for (const other of list.children) {
      if (other.dataset.seq && Number(other.dataset.seq) > m.seq) { before = other; break; }
    }
    list.insertBefore(li, before);
  }
  li.dataset.seq = m.seq;
  state.seen.set(m.id, li);
  decorate(li, m);
  clearTyping(m.from);
  if (live) scrollToEnd(atEnd);
}

function send(text) {
  const clientID = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
  const li = messageItem({ from: state.me, text, ts: Date.now() });
  li.classList.add("mine", "pending");
  li.dataset.text = text;
  li.dataset.clientId = clientID;
  $("messages").append(li);
  state.byClientID.set(clientID, li);
  scrollToEnd(true);
  sendPending(li);
}

function sendPending(li) {
  request({ type: "send", room: ROOM, text: li.dataset.text, client_id: li.dataset.clientId }, (f) => {
    if (f.type === "error") { li.classList.add("failed"); toast(f.message); return; }
    addMessage(f.msg, true);
  });
}

// resendPending sends again, with the same client_id, what was typed while
// the connection was down; the server never stores a client_id twice.
function resendPending() { for (const li of state.byClientID.values()) sendPending(li); }

function system(text) {
  const li = document.createElement("li");
  li.className = "system";
  li.textContent = text;
  const atEnd = isAtEnd();
  $("messages").append(li);
  scrollToEnd(atEnd);
}

function setMembers(list) {
  const ul = $("members");
  ul.replaceChildren();
  list.forEach((n) => addMember(n, true));
}

function addMember(nick, present) {
  const ul = $("members");
  const existing = [...ul.children].find((li) => li.textContent === nick);
  if (present && !existing) {
    const li = document.createElement("li");
    li.textContent = nick;
    ul.append(li);
  } else if (!present && existing) existing.remove();
  $("member-count").textContent = "(" + ul.children.length + ")";
}

function showTyping(nick) {
  clearTimeout(state.typers.get(nick));
  state.typers.set(nick, setTimeout(() => clearTyping(nick), 3500));
  renderTyping();
}

function clearTyping(nick) { clearTimeout(state.typers.get(nick)); state.typers.delete(nick); renderTyping(); }

function renderTyping() {
  const names = [...state.typers.keys()];
  $("typing").textContent = names.length === 0 ? "" : names.length === 1 ? names[0] + " is typing…" : names.join(", ") + " are typing…";
}

function showAnnouncement(a) {
  const dismissed = JSON.parse(store.get("dismissed") || "[]");
  if (dismissed.includes(a.id) || document.querySelector('[data-announcement="' + a.id + '"]')) return;
  const div = document.createElement("div");
  div.className = "banner";
  div.dataset.announcement = a.id;
  const body = document.createElement("div");
  body.className = "body";
  body.innerHTML = a.html; // rendered and sanitised by the server
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "×";
  close.title = "Dismiss";
  close.onclick = () => {
    div.remove();
    store.set("dismissed", JSON.stringify([...dismissed, a.id].slice(-50)));
  };
  div.append(body, close);
  $("banners").append(div);
}

function isAtEnd() { const p = document.querySelector(".messages-pane"); return p.scrollHeight - p.scrollTop - p.clientHeight < 40; }
function scrollToEnd(really) { if (really) { const p = document.querySelector(".messages-pane"); p.scrollTop = p.scrollHeight; } }

function loadOlder() {
  if (!state.oldestSeq) return;
  const pane = document.querySelector(".messages-pane");
  const fromBottom = pane.scrollHeight - pane.scrollTop;
  request({ type: "history", room: ROOM, before: state.oldestSeq, limit: 50 }, (h) => {
    if (h.type === "error") { toast(h.message); return; }
    h.messages.forEach((m) => addMessage(m, false));
    if (h.messages.length) state.oldestSeq = h.messages[0].seq;
    $("older").hidden = !h.has_more;
    pane.scrollTop = pane.scrollHeight - fromBottom; // keep the view where it was
  });
}

function init() {
  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    store.set("token", null);
    store.set("nick", $("nick").value.trim());
    if (state.ws && state.ws.readyState === WebSocket.OPEN) hello();
  });
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("text");
    if (input.value.trim() === "") return;
    send(input.value);
    input.value = "";
    input.focus();
  });
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("text").addEventListener("input", () => {
    const now = Date.now();
    if (now - state.typingSentAt > 2000 && $("text").value.trim() !== "") {
      state.typingSentAt = now;
      request({ type: "typing", room: ROOM });
    }
  });
  $("older").addEventListener("click", loadOlder);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { state.unseen = 0; document.title = state.title; }
  });
  connect();
}

init();
