// Parley's web page: rooms and direct conversations over the native
// protocol, through ParleyClient (client.js), in English or 简体中文
// (i18n.js). People join as guests (a nickname held by a token in
// localStorage) or log in to an account through the HTTP API (/api/auth/…,
// an HttpOnly cookie that also authenticates the WebSocket). Moderators and
// admins get a menu on each member, a delete button on each message and a
// slow-mode control, all through the HTTP API (/api/moderation, /api/rooms). User text is only ever set as textContent; the one HTML
// inserted is the server's rendered, sanitised markdown (msg.html,
// announcement.html), and the page's Content-Security-Policy forbids
// inline script as a second wall.
//
// State lives in S; each conversation (a room or a direct conversation,
// keyed as the server keys it: "lobby", "dm:alice:bob") keeps its messages
// by sequence number, so a message that arrives twice (live and through a
// history page) is shown once. Only the open conversation is in the DOM.
"use strict";

(function () {
  const { t } = window.i18n;
  const { api, errText, toast } = window.parleyUI;
  const PAGE = 50;              // messages per history page
  const GROUP_MS = 5 * 60e3;    // consecutive messages of one sender within this are grouped
  const TYPING_SHOW_MS = 4000;  // how long "… is typing" stays after a typing event
  const TYPING_SEND_MS = 2000;  // how often we say we are typing (the server throttles too)
  const NEAR_BOTTOM = 48;       // px: "at the newest message" within this
  const NEAR_TOP = 80;          // px: load older history within this
  const PRESENCE_EVERY = 30e3;  // refresh the open room's member list (big rooms get no joined/left events)
  const NICK_RE = /^[\p{L}\p{N}_.\-]{1,32}$/u;
  const ROOM_RE = /^[\p{L}\p{N}_.\-]{1,64}$/u;

  const $ = (id) => document.getElementById(id);
  const store = {
    get(k) { try { return localStorage.getItem("parley." + k); } catch { return null; } },
    set(k, v) { try { v == null ? localStorage.removeItem("parley." + k) : localStorage.setItem("parley." + k, v); } catch { /* private mode */ } },
    json(k, def) { try { return JSON.parse(this.get(k)) ?? def; } catch { return def; } },
    setJSON(k, v) { this.set(k, JSON.stringify(v)); },
  };
  const lower = (s) => String(s || "").toLowerCase();
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };

  const S = {
    client: null,
    me: null,               // my nickname
    role: "",               // my role: "", "moderator", "admin"
    registered: false,      // my nickname is an account
    loginMode: "guest",     // the sign-in form: guest | login | register
    mutes: new Map(),       // room key → {until} while I am muted there
    notice: null,           // the notice by the composer: {kind, room, until, text}
    convs: new Map(),       // key → conversation
    current: null,          // key of the open conversation
    read: store.json("read", {}),       // key → highest seq read
    dismissed: new Set(store.json("dismissed", [])),
    notified: new Set(),    // message ids already notified
    hiddenUnread: 0,        // mentions and DMs while the tab was hidden
    typingSentAt: 0,
    suggest: { open: false, items: [], index: 0, start: 0 },
  };

  // ---- conversations ----

  /**
   * A conversation: a room, or a direct conversation with peer.
   * msgs are sorted by seq; pending are my messages not acknowledged yet.
   */
  function ensureConv(key, kind, name) {
    key = lower(key);
    let c = S.convs.get(key);
    if (!c) {
      c = {
        key, kind, name, msgs: [], pending: new Map(), members: [], typers: new Map(),
        unread: 0, hasMore: null, loading: false, loaded: false, markerSeq: 0, lastActive: 0,
      };
      S.convs.set(key, c);
    }
    if (name && kind === "dm") c.name = name;
    return c;
  }

  function peerOf(m) { return lower(m.from) === lower(S.me) ? m.to : m.from; }

  function convOf(m) {
    return m.room.startsWith("dm:") ? ensureConv(m.room, "dm", peerOf(m)) : ensureConv(m.room, "room", m.room);
  }

  // insert adds m in seq order; it reports false if it was there already.
  function insert(c, m) {
    const a = c.msgs;
    let i = a.length;
    while (i > 0 && a[i - 1].seq > m.seq) i--;
    if (i > 0 && a[i - 1].seq === m.seq) return false;
    a.splice(i, 0, m);
    c.lastActive = Math.max(c.lastActive, m.ts || 0);
    return true;
  }

  const isMod = () => S.role === "moderator" || S.role === "admin";
  const lastSeq = (c) => (c.msgs.length ? c.msgs[c.msgs.length - 1].seq : 0);
  const isMine = (m) => lower(m.from) === lower(S.me);
  const mentionsMe = (m) => (m.mentions || []).some((n) => lower(n) === lower(S.me));
  const target = (c) => (c.kind === "room" ? "#" + c.name : "@" + c.name);

  function readSeq(c) { return S.read[c.key] || 0; }
  function setRead(c, seq) {
    if (!(c.key in S.read) || seq > readSeq(c)) { S.read[c.key] = seq; store.setJSON("read", S.read); }
  }

  function countUnread(c) {
    const r = readSeq(c);
    c.unread = c.msgs.filter((m) => m.seq > r && !isMine(m)).length;
  }

  // ---- start-up and login ----

  function init() {
    window.i18n.apply(document);
    setupSettings();
    setupLogin();
    setupSidebar();
    setupComposer();
    setupPane();
    setupAccount();
    setupModeration();
    document.addEventListener("visibilitychange", onVisibility);
    window.addEventListener("online", () => { if (S.client) { S.client.check(); setStatus(S.client.state); } });
    window.addEventListener("offline", () => setStatus("offline"));
    const token = store.get("token");
    const account = store.get("account");
    if (account) start({ nickname: account });   // the login cookie authenticates it
    else if (token) start({ token });
    else showLogin();
    setInterval(refreshMembers, PRESENCE_EVERY);
  }

  // refreshMembers asks who is in the open room: rooms above the server's
  // presence limit send no joined/left events, so their list would go stale.
  function refreshMembers() {
    const c = S.convs.get(S.current);
    if (!S.client || document.hidden || !c || c.kind !== "room" || !c.joined || S.client.state !== "open") return;
    S.client.presence(c.name).then((members) => {
      c.members = members;
      if (S.current === c.key) renderMembers();
    }, () => { /* the next refresh will do */ });
  }

  function showLogin(message, mode) {
    $("app").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    hideNotice();
    if (mode) setLoginMode(mode);
    $("login-error").textContent = message || "";
    setStatus("closed");
    const input = $("nick");
    if (!input.value) input.value = store.get("nick") || "guest" + Math.floor(1000 + Math.random() * 9000);
    if (S.loginMode !== "guest" && input.value) { $("password").focus(); return; }
    input.focus();
    input.select();
  }

  // setLoginMode switches the sign-in form between joining as a guest,
  // logging in to an account and registering one.
  function setLoginMode(mode) {
    S.loginMode = mode;
    for (const m of ["guest", "login", "register"]) $("mode-" + m).setAttribute("aria-pressed", String(m === mode));
    const keys = {
      guest: ["login.heading", "login.label", "login.help", "login.submit"],
      login: ["login.headingLogin", "login.labelAccount", "login.helpLogin", "login.submitLogin"],
      register: ["login.headingRegister", "login.labelAccount", "login.helpRegister", "login.submitRegister"],
    }[mode];
    ["login-heading", "nick-label", "nick-help", "login-submit"].forEach((id, i) => { $(id).dataset.i18n = keys[i]; $(id).textContent = t(keys[i]); });
    $("password-row").hidden = mode === "guest";
    $("password").required = mode !== "guest";
    $("password").autocomplete = mode === "register" ? "new-password" : "current-password";
    $("nick").autocomplete = mode === "guest" ? "nickname" : "username";
    $("login-error").textContent = "";
  }

  function setupLogin() {
    for (const m of ["guest", "login", "register"]) {
      $("mode-" + m).addEventListener("click", () => { setLoginMode(m); (m === "guest" || !$("nick").value ? $("nick") : $("password")).focus(); });
    }
    $("login").addEventListener("submit", (e) => {
      e.preventDefault();
      const nick = $("nick").value.trim();
      if (!NICK_RE.test(nick)) { $("login-error").textContent = t("login.help"); return; }
      if (S.loginMode === "guest") { start({ nickname: nick }); return; }
      const password = $("password").value;
      if (!password) { $("login-error").textContent = t("login.needPassword"); return; }
      const body = { nickname: nick, password };
      // Registering the nickname this browser holds as a guest: the guest
      // token proves it is ours.
      if (S.loginMode === "register" && store.get("token") && lower(store.get("nick")) === lower(nick)) body.token = store.get("token");
      $("login-submit").disabled = true;
      api("POST", S.loginMode === "register" ? "/api/auth/register" : "/api/auth/login", body).then((res) => {
        $("password").value = "";
        signedIn((res && res.nickname) || nick);
      }, (err) => { $("login-error").textContent = errText(err); })
        .finally(() => { $("login-submit").disabled = false; });
    });
  }

  // signedIn: the login cookie is set; (re)connect as the account.
  function signedIn(nick) {
    store.set("account", nick);
    store.set("token", null);
    store.set("nick", nick);
    start({ nickname: nick });
  }

  const roomPath = (room) => "/api/rooms/" + encodeURIComponent(room);

  function start({ token, nickname }) {
    if (S.client) S.client.close();
    const client = new ParleyClient({ token });
    S.client = client;
    client.on("state", (s) => { if (S.client === client) setStatus(s); });
    client.on("message", (m) => S.client === client && onMessage(m));
    client.on("mention", (m) => S.client === client && onMention(m));
    client.on("joined", (e) => S.client === client && onPresence(e, true));
    client.on("left", (e) => S.client === client && onPresence(e, false));
    client.on("typing", (e) => S.client === client && onTyping(e));
    client.on("announcement", (a) => S.client === client && showAnnouncement(a));
    client.on("reset", (e) => S.client === client && onReset(e.room));
    client.on("error", (err) => S.client === client && !["unavailable", "kicked", "banned"].includes(err.code) && toast(errText(err)));
    client.on("welcome", (w) => { if (S.client === client && S.me) { setRole(w.role); if (S.notice && S.notice.kind === "kicked") hideNotice(); } });
    client.on("message.deleted", (m) => S.client === client && onDeleted(m));
    client.on("announcement.deleted", (a) => S.client === client && document.querySelector('[data-announcement="' + CSS.escape(String(a.id)) + '"]')?.remove());
    client.on("room.settings", (e) => S.client === client && onRoomSettings(e));
    client.on("muted", (e) => S.client === client && onMuted(e, true));
    client.on("unmuted", (e) => S.client === client && onMuted(e, false));
    client.on("role", (e) => S.client === client && lower(e.nickname) === lower(S.me) && setRole(e.role));
    client.on("kicked", (e) => S.client === client && showNotice({ kind: "kicked", text: t("notice.kicked", { message: e.message }) }));
    client.on("banned", (e) => {
      if (S.client !== client) return;
      client.close();
      if (S.me) { showNotice({ kind: "banned", text: t("notice.banned", { message: e.message }) }); setStatus("closed"); }
    });
    client.on("auth", (err) => {
      if (S.client !== client) return;
      client.close();
      if (err.code === "login_required") {
        // A registered nickname (or an account whose cookie expired).
        store.set("token", null);
        store.set("account", null);
        $("nick").value = nickname || $("nick").value;
        showLogin(t("login.registered"), "login");
        return;
      }
      if (err.code !== "banned") { store.set("token", null); store.set("account", null); }
      showLogin(errText(err));
    });
    client.login(nickname).then((w) => onWelcome(client, w), () => { /* the auth listener shows it */ });
  }

  function onWelcome(client, w) {
    if (S.client !== client) return;
    S.me = w.nickname;
    S.registered = !!w.registered;
    store.set("nick", w.nickname);
    if (w.token) { store.set("token", w.token); store.set("account", null); }
    else { store.set("token", null); store.set("account", w.nickname); } // the cookie signed us in
    setRole(w.role);
    $("login").hidden = true;
    $("app").hidden = false;
    $("logout").hidden = false;
    renderAccount();
    const rooms = store.json("rooms", []).filter((r) => typeof r === "string" && ROOM_RE.test(r));
    if (!rooms.some((r) => lower(r) === "lobby")) rooms.unshift("lobby");
    for (const r of rooms) {
      ensureConv(r, "room", lower(r));
      joinRoom(r, false).catch(() => { /* shown by joinRoom */ });
    }
    client.conversations().then((list) => {
      for (const d of list) {
        const c = ensureConv(d.name, "dm", d.with);
        if (!(c.key in S.read)) setRead(c, d.last_seq); // first sight on this device: nothing is unread
        c.serverLast = d.last_seq;
        if (!c.loaded) loadLatest(c);
      }
      renderSidebar();
    }, (err) => toast(errText(err)));
    const want = lower(store.get("current"));
    select(S.convs.has(want) ? want : rooms.some((r) => lower(r) === want) ? want : "lobby");
    resendOutbox();
    $("text").focus();
  }

  function joinRoom(name, open) {
    return S.client.join(name).then((ack) => {
      const c = ensureConv(ack.room, "room", ack.room);
      c.name = ack.room;
      c.joined = true;
      c.members = ack.members || [];
      // A room above the server's presence limit sends no list with the
      // join (only member_count): ask for it.
      if (!ack.members) S.client.presence(ack.room).then((members) => {
        c.members = members;
        if (S.current === c.key) renderMembers();
      }, () => { /* refreshMembers will try again */ });
      c.serverLast = ack.last_seq;
      c.slowMs = ack.slow_mode_ms || 0;
      if (S.current === c.key) renderHeader();
      if (!(c.key in S.read)) setRead(c, ack.last_seq); // a newcomer owes nothing to old history
      saveRooms();
      if (!c.loaded) loadLatest(c);
      if (open) select(c.key);
      else { renderSidebar(); if (S.current === c.key) renderMembers(); }
      return c;
    }, (err) => {
      const c = S.convs.get(lower(name));
      if (c && !c.joined) S.convs.delete(c.key); // a room that cannot be joined is not listed
      saveRooms();
      renderSidebar();
      if (S.current === lower(name)) select("lobby");
      if (!open) toast(errText(err));
      throw err;
    });
  }

  function saveRooms() {
    store.setJSON("rooms", [...S.convs.values()].filter((c) => c.kind === "room" && c.joined).map((c) => c.name));
  }

  // ---- receiving ----

  function onMessage(m) {
    const c = convOf(m);
    if (m.client_id && c.pending.has(m.client_id) && isMine(m)) {
      c.pending.delete(m.client_id);
      saveOutbox();
      const li = document.querySelector('[data-client-id="' + CSS.escape(m.client_id) + '"]');
      if (li) li.remove();
    }
    c.typers.delete(lower(m.from));
    if (!(c.key in S.read)) setRead(c, m.seq - 1); // first sight of a conversation: this message is new
    if (!insert(c, m)) return;
    const mine = isMine(m);
    if (!mine && m.seq > readSeq(c)) {
      c.unread++;
      if (c.kind === "dm") alertHidden(m, t("notify.dm", { nick: m.from }));
    }
    if (S.current === c.key) {
      const pane = $("pane");
      const stick = mine || atBottom();
      if (!mine && (!stick || document.hidden) && !c.markerSeq && m.seq > readSeq(c)) c.markerSeq = m.seq;
      if (m.seq < lastRenderedSeq() || c.markerSeq === m.seq) renderMessages();
      else appendMessage(c, m);
      if (stick) pane.scrollTop = pane.scrollHeight;
      else showJump(true);
      renderTyping();
      maybeMarkRead();
    }
    renderSidebar();
  }

  // onReset: the server no longer has the point this page had reached in
  // a conversation (its history was cut or restored): start it afresh.
  function onReset(room) {
    const c = S.convs.get(lower(room));
    if (!c) return;
    c.msgs = [];
    c.hasMore = null;
    c.loaded = false;
    c.unread = 0;
    c.markerSeq = 0;
    loadLatest(c);
  }

  function onMention(m) {
    if (alertHidden(m, t("notify.mention", { nick: m.from, room: m.room }))) return;
    if (S.current !== lower(m.room)) toast(t("toast.mention", { nick: m.from, room: m.room }));
  }

  // alertHidden raises a browser notification and counts the message in
  // the title while the tab is hidden; it reports whether it did.
  function alertHidden(m, title) {
    if (!document.hidden || S.notified.has(m.id)) return false;
    S.notified.add(m.id);
    S.hiddenUnread++;
    renderTitle();
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        const n = new Notification(title, { body: m.text.slice(0, 200), tag: "parley-" + m.id });
        n.onclick = () => { window.focus(); select(convOf(m).key); n.close(); };
      } catch { /* some browsers only allow notifications from a service worker */ }
    }
    return true;
  }

  function renderTitle() {
    document.title = (S.hiddenUnread ? "(" + S.hiddenUnread + ") " : "") + t("app.title");
  }

  function onVisibility() {
    if (!document.hidden) {
      S.hiddenUnread = 0;
      renderTitle();
      maybeMarkRead();
    }
  }

  function onPresence(e, joined) {
    const c = S.convs.get(lower(e.room));
    if (!c || c.kind !== "room") return;
    const has = c.members.some((n) => lower(n) === lower(e.nickname));
    if (joined && !has) c.members = [...c.members, e.nickname].sort((a, b) => lower(a).localeCompare(lower(b)));
    if (!joined && has) c.members = c.members.filter((n) => lower(n) !== lower(e.nickname));
    if (!joined) c.typers.delete(lower(e.nickname));
    if (S.current === c.key) { renderMembers(); renderTyping(); }
  }

  function onTyping(e) {
    const key = lower(e.room);
    const c = S.convs.get(key) || (key.startsWith("dm:") ? ensureConv(key, "dm", e.nickname) : null);
    if (!c || lower(e.nickname) === lower(S.me)) return;
    clearTimeout(c.typers.get(lower(e.nickname))?.timer);
    const timer = setTimeout(() => { c.typers.delete(lower(e.nickname)); if (S.current === c.key) renderTyping(); }, TYPING_SHOW_MS);
    c.typers.set(lower(e.nickname), { nick: e.nickname, timer });
    if (S.current === c.key) renderTyping();
  }

  // ---- history ----

  function historyTarget(c) { return c.kind === "room" ? c.name : { with: c.name }; }

  function loadLatest(c) {
    if (c.loading || (c.kind === "room" && !c.joined)) return; // rooms: after the join's ack
    c.loading = true;
    S.client.history(historyTarget(c), { limit: PAGE }).then((page) => {
      c.loading = false;
      c.loaded = true;
      page.messages.forEach((m) => insert(c, m));
      if (c.hasMore === null) c.hasMore = page.has_more;
      countUnread(c);
      if (S.current === c.key) openCurrent();
      renderSidebar();
    }, (err) => { c.loading = false; toast(errText(err)); });
  }

  function loadOlder(c) {
    if (c.loading || !c.hasMore || !c.msgs.length) return;
    c.loading = true;
    $("older-status").textContent = t("room.loadingOlder");
    S.client.history(historyTarget(c), { before: c.msgs[0].seq, limit: PAGE }).then((page) => {
      c.loading = false;
      c.hasMore = page.has_more;
      $("older-status").textContent = "";
      if (S.current !== c.key) { page.messages.forEach((m) => insert(c, m)); return; }
      const pane = $("pane");
      const fromBottom = pane.scrollHeight - pane.scrollTop; // keep what the reader sees in place
      page.messages.forEach((m) => insert(c, m));
      renderMessages();
      pane.scrollTop = pane.scrollHeight - fromBottom;
    }, (err) => { c.loading = false; $("older-status").textContent = ""; toast(errText(err)); });
  }

  // ---- rendering: conversation ----

  function select(key) {
    key = lower(key);
    const c = S.convs.get(key);
    if (!c) { if (key !== "lobby") select("lobby"); return; }
    if (S.current && S.current !== key) {
      const prev = S.convs.get(S.current);
      if (prev) prev.markerSeq = 0;
    }
    S.current = key;
    store.set("current", key);
    c.markerSeq = c.unread ? (c.msgs.find((m) => m.seq > readSeq(c) && !isMine(m)) || {}).seq || 0 : 0;
    closeNav();
    closeSuggest();
    $("conv-title").textContent = c.kind === "room" ? "# " + c.name : t("room.dmWith", { nick: c.name });
    $("leave").hidden = c.kind !== "room" || c.key === "lobby";
    renderHeader();
    if (S.notice && S.notice.room && S.notice.room !== key) hideNotice();
    if (S.mutes.has(key)) showMuteNotice(c);
    $("text").setAttribute("aria-label", t("room.messageTo", { target: target(c) }));
    $("text").placeholder = t("room.messageTo", { target: target(c) });
    if (!c.loaded) loadLatest(c);
    openCurrent();
    renderSidebar();
  }

  // openCurrent draws the open conversation and scrolls to where reading
  // resumes: the unread marker, else the newest message.
  function openCurrent() {
    const c = S.convs.get(S.current);
    if (!c) return;
    if (!c.markerSeq && c.unread) c.markerSeq = (c.msgs.find((m) => m.seq > readSeq(c) && !isMine(m)) || {}).seq || 0;
    renderMessages();
    renderMembers();
    renderTyping();
    showJump(false);
    const pane = $("pane");
    const marker = $("messages").querySelector(".unread-marker");
    if (marker && marker.offsetTop > pane.clientHeight / 2) pane.scrollTop = marker.offsetTop - pane.clientHeight / 3;
    else pane.scrollTop = pane.scrollHeight;
    maybeMarkRead();
    // A short first page may not fill the pane: then nothing can scroll to
    // the top, so load older right away.
    if (c.loaded && c.hasMore && pane.scrollHeight <= pane.clientHeight) loadOlder(c);
  }

  function lastRenderedSeq() {
    const items = $("messages").querySelectorAll("li.msg[data-seq]");
    return items.length ? Number(items[items.length - 1].dataset.seq) : 0;
  }

  // renderMessages draws the open conversation into a fresh list that
  // replaces the old one: a live region that appears whole is not read out,
  // so a screen reader announces new messages, not a redrawn history.
  function renderMessages() {
    const c = S.convs.get(S.current);
    const old = $("messages");
    const list = old.cloneNode(false);
    old.replaceWith(list);
    if (!c) return;
    if (c.loaded && !c.hasMore && c.msgs.length) list.append(el("li", "conv-start", t("room.start", { target: target(c) })));
    if (c.loaded && !c.msgs.length && !c.pending.size) list.append(el("li", "conv-start empty", t("room.empty")));
    let prev = null;
    for (const m of c.msgs) {
      if (c.markerSeq && m.seq === c.markerSeq) { list.append(markerItem()); prev = null; }
      list.append(messageItem(m, prev));
      prev = m;
    }
    for (const [id, p] of c.pending) list.append(pendingItem(c, id, p));
  }

  function appendMessage(c, m) {
    const list = $("messages");
    list.querySelector(".conv-start.empty")?.remove();
    const prevLi = [...list.querySelectorAll("li.msg[data-seq]")].pop();
    const prev = prevLi ? c.msgs.find((x) => x.seq === Number(prevLi.dataset.seq)) : null;
    const li = messageItem(m, prev);
    const firstPending = list.querySelector("li.msg.pending, li.msg.failed");
    list.insertBefore(li, firstPending);
  }

  function markerItem() {
    const li = el("li", "unread-marker");
    li.setAttribute("role", "separator");
    li.append(el("span", null, t("msg.unreadMarker")));
    return li;
  }

  function messageItem(m, prev) {
    const li = el("li", "msg");
    li.dataset.seq = m.seq;
    li.dataset.id = m.id;
    li.dataset.from = m.from;
    if (isMine(m)) li.classList.add("mine");
    if (m.deleted) {
      // A tombstone: a moderator deleted it; its place in the room stays.
      li.classList.add("deleted");
      const meta = el("div", "meta");
      meta.append(el("span", "from", m.from), timeItem(m.ts));
      li.append(meta, el("div", "body tombstone", t("msg.deleted")));
      return li;
    }
    if (mentionsMe(m)) li.classList.add("mentioned");
    const grouped = prev && lower(prev.from) === lower(m.from) && m.ts - prev.ts < GROUP_MS;
    if (grouped) li.classList.add("cont");
    const meta = el("div", "meta");
    meta.append(el("span", "from", m.from));
    meta.append(timeItem(m.ts));
    if (grouped) meta.classList.add("visually-hidden");
    const body = el("div", "body");
    body.innerHTML = m.html; // the server's sanitised rendering; never the raw text
    fixLinks(body);
    li.append(meta, body);
    if (isMod() && !m.room.startsWith("dm:")) li.append(deleteTool(m));
    return li;
  }

  // deleteTool is a moderator's delete button on a room message: the
  // first click arms it, a second within a few seconds deletes. The armed
  // message is kept in S.armed, so a redraw of the list does not disarm it.
  function deleteTool(m) {
    const tools = el("div", "msg-tools");
    tools.dataset.key = m.room + "\n" + m.seq;
    const b = el("button", "msg-delete");
    b.type = "button";
    b.setAttribute("aria-label", t("msg.deleteLabel", { nick: m.from }));
    tools.append(b);
    showArmed(tools);
    b.addEventListener("click", () => {
      const key = tools.dataset.key;
      if (!(S.armed && S.armed.key === key)) {
        if (S.armed) clearTimeout(S.armed.timer);
        S.armed = { key, timer: setTimeout(() => { S.armed = null; refreshArmed(); }, 4000) };
        refreshArmed();
        return;
      }
      clearTimeout(S.armed.timer);
      S.armed = null;
      b.disabled = true;
      api("DELETE", roomPath(m.room) + "/messages/" + m.seq).then((res) => {
        onDeleted((res && res.message) || Object.assign({}, m, { deleted: true, text: "", html: "", mentions: [] }));
      }, (err) => { b.disabled = false; refreshArmed(); toast(errText(err)); });
    });
    return tools;
  }

  function showArmed(tools) {
    const armed = !!S.armed && S.armed.key === tools.dataset.key;
    tools.classList.toggle("armed", armed);
    tools.firstChild.textContent = armed ? t("msg.deleteConfirm") : t("msg.delete");
  }

  function refreshArmed() { for (const tools of $("messages").querySelectorAll(".msg-tools")) showArmed(tools); }

  // onDeleted puts a tombstone in the place of a deleted message.
  function onDeleted(m) {
    const c = S.convs.get(lower(m.room));
    if (!c) return;
    const i = c.msgs.findIndex((x) => x.seq === m.seq);
    if (i < 0) return;
    const tomb = Object.assign({}, c.msgs[i], m, { deleted: true, text: "", html: "", mentions: [] });
    c.msgs[i] = tomb;
    if (S.current !== c.key) return;
    const li = $("messages").querySelector('li.msg[data-seq="' + m.seq + '"]');
    if (li) li.replaceWith(messageItem(tomb, c.msgs[i - 1] || null));
  }

  function pendingItem(c, id, p) {
    const li = el("li", "msg mine " + (p.failed ? "failed" : "pending"));
    li.dataset.clientId = id;
    const meta = el("div", "meta");
    meta.append(el("span", "from", S.me));
    const body = el("div", "body plain", p.text); // not rendered yet: shown as typed
    const state = el("div", "state");
    if (p.failed) {
      state.append(el("span", null, t("msg.failed", { reason: p.failed })));
      const retry = el("button", "text-button", t("msg.retry"));
      retry.type = "button";
      retry.addEventListener("click", () => { post(c, p.text, id); });
      const discard = el("button", "text-button", t("msg.discard"));
      discard.type = "button";
      discard.addEventListener("click", () => { c.pending.delete(id); saveOutbox(); li.remove(); });
      state.append(retry, discard);
    } else {
      state.append(el("span", null, t("msg.pending")));
    }
    li.append(meta, body, state);
    return li;
  }

  function timeItem(ts) {
    const d = new Date(ts);
    const lang = window.i18n.current();
    const today = new Date().toDateString() === d.toDateString();
    const opts = today ? { hour: "2-digit", minute: "2-digit" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    const tm = el("time", "time", new Intl.DateTimeFormat(lang, opts).format(d));
    tm.dateTime = d.toISOString();
    tm.title = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "medium" }).format(d);
    return tm;
  }

  // fixLinks makes sure every link opens in a new tab without giving the
  // new page a handle on this one, and marks mentions of me.
  function fixLinks(root) {
    for (const a of root.querySelectorAll("a")) {
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
    }
    for (const s of root.querySelectorAll(".mention")) {
      if (lower(s.dataset.nick) === lower(S.me)) s.classList.add("me");
    }
  }

  function renderMembers() {
    const c = S.convs.get(S.current);
    const ul = $("members");
    ul.textContent = "";
    if (!c) return;
    const members = c.kind === "room" ? c.members : [S.me, c.name];
    $("members-heading").textContent = t("room.online", { n: members.length });
    $("members-toggle").textContent = t("room.onlineShort", { n: members.length });
    for (const nick of members) {
      const li = el("li");
      if (lower(nick) === lower(S.me)) {
        li.append(el("span", "member me", nick + " " + t("room.you")));
      } else {
        const b = el("button", "member", nick);
        b.type = "button";
        b.title = t("room.dmWith", { nick });
        b.addEventListener("click", () => openDM(nick));
        li.append(b);
        if (isMod() && c.kind === "room") {
          li.classList.add("modded");
          const mb = el("button", "icon-button member-menu", "⋯");
          mb.type = "button";
          mb.dataset.nick = nick;
          mb.setAttribute("aria-label", t("mod.menuFor", { nick }));
          mb.title = t("mod.menuFor", { nick });
          mb.setAttribute("aria-expanded", "false");
          mb.addEventListener("click", () => toggleModMenu(li, mb, c, nick));
          li.append(mb);
          if (S.modMenu && S.modMenu.room === c.key && lower(S.modMenu.nick) === lower(nick)) {
            mb.setAttribute("aria-expanded", "true"); // a redraw keeps the open menu, and what was typed in it
            li.append(S.modMenu.el);
          }
        }
      }
      ul.append(li);
    }
    // Someone who left while a moderator had their menu open (after a kick,
    // say) keeps it: the moderator may still mute or ban them.
    const m = S.modMenu;
    if (m && m.room === c.key && !members.some((n) => lower(n) === lower(m.nick))) {
      const li = el("li", "modded gone");
      li.append(el("span", "member", m.nick));
      const mb = el("button", "icon-button member-menu", "⋯");
      mb.type = "button";
      mb.dataset.nick = m.nick;
      mb.setAttribute("aria-label", t("mod.menuFor", { nick: m.nick }));
      mb.setAttribute("aria-expanded", "true");
      mb.addEventListener("click", () => { closeModMenu(); renderMembers(); });
      li.append(mb, m.el);
      ul.append(li);
    }
  }

  function renderTyping() {
    const c = S.convs.get(S.current);
    const names = c ? [...c.typers.values()].map((x) => x.nick) : [];
    $("typing").textContent = names.length === 0 ? "" : names.length === 1 ? t("typing.one", { a: names[0] })
      : names.length === 2 ? t("typing.two", { a: names[0], b: names[1] }) : t("typing.many");
  }

  function openDM(nick) {
    if (lower(nick) === lower(S.me)) return;
    const c = ensureConv(ParleyClient.dmKey(S.me, nick), "dm", nick);
    if (!(c.key in S.read)) setRead(c, 0);
    select(c.key);
    closeMembers();
    $("text").focus();
  }

  // ---- rendering: sidebar ----

  function renderSidebar() {
    const rooms = [...S.convs.values()].filter((c) => c.kind === "room").sort((a, b) => a.name.localeCompare(b.name));
    const dms = [...S.convs.values()].filter((c) => c.kind === "dm" && (c.msgs.length || c.pending.size || c.key === S.current || c.serverLast))
      .sort((a, b) => b.lastActive - a.lastActive || a.name.localeCompare(b.name));
    fillList($("room-list"), rooms, "# ");
    fillList($("dm-list"), dms, "@ ");
    $("no-dms").hidden = dms.length > 0;
  }

  function fillList(ul, convs, prefix) {
    ul.textContent = "";
    for (const c of convs) {
      const li = el("li");
      const b = el("button", "conv");
      b.type = "button";
      b.dataset.key = c.key;
      if (c.key === S.current) { b.classList.add("active"); b.setAttribute("aria-current", "page"); }
      if (c.unread) b.classList.add("has-unread");
      b.append(el("span", "conv-prefix", prefix), el("span", "conv-name", c.name));
      if (c.unread) {
        const badge = el("span", "badge", c.unread > 99 ? "99+" : String(c.unread));
        badge.setAttribute("aria-label", t("nav.unread", { n: c.unread }));
        b.append(badge);
      }
      b.addEventListener("click", () => { select(c.key); $("text").focus(); });
      li.append(b);
      ul.append(li);
    }
  }

  function setupSidebar() {
    $("nav-toggle").addEventListener("click", () => (document.body.classList.contains("nav-open") ? closeNav() : openNav()));
    $("scrim").addEventListener("click", () => { closeNav(); closeMembers(); });
    $("members-toggle").addEventListener("click", () => {
      const open = !document.body.classList.contains("members-open");
      document.body.classList.toggle("members-open", open);
      $("members-toggle").setAttribute("aria-expanded", String(open));
      $("scrim").hidden = !open;
    });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") { closeNav(); closeMembers(); } });
    $("new-room").addEventListener("click", () => {
      const form = $("room-form");
      form.hidden = !form.hidden;
      $("new-room").setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) $("room-input").focus();
    });
    $("room-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const name = $("room-input").value.trim().replace(/^#/, "");
      if (!ROOM_RE.test(name)) { $("room-error").textContent = t("err.roomName"); return; }
      $("room-error").textContent = "";
      joinRoom(name, true).then(() => {
        $("room-input").value = "";
        $("room-form").hidden = true;
        $("new-room").setAttribute("aria-expanded", "false");
        $("text").focus();
      }, (err) => { $("room-error").textContent = errText(err); });
    });
    $("leave").addEventListener("click", () => {
      const c = S.convs.get(S.current);
      if (!c || c.kind !== "room" || c.key === "lobby") return;
      S.client.leave(c.name).then(() => {
        S.convs.delete(c.key);
        saveRooms();
        select("lobby");
      }, (err) => toast(errText(err)));
    });
  }

  function openNav() {
    document.body.classList.add("nav-open");
    $("nav-toggle").setAttribute("aria-expanded", "true");
    $("nav-toggle").setAttribute("aria-label", t("nav.close"));
    $("scrim").hidden = false;
    $("sidebar").querySelector("button.conv, button")?.focus();
  }

  function closeNav() {
    if (!document.body.classList.contains("nav-open")) return;
    document.body.classList.remove("nav-open");
    $("nav-toggle").setAttribute("aria-expanded", "false");
    $("nav-toggle").setAttribute("aria-label", t("nav.open"));
    $("scrim").hidden = !document.body.classList.contains("members-open");
  }

  function closeMembers() {
    document.body.classList.remove("members-open");
    $("members-toggle").setAttribute("aria-expanded", "false");
    $("scrim").hidden = !document.body.classList.contains("nav-open");
  }

  // ---- scrolling ----

  function atBottom() {
    const p = $("pane");
    return p.scrollHeight - p.scrollTop - p.clientHeight <= NEAR_BOTTOM;
  }

  function setupPane() {
    $("pane").addEventListener("scroll", () => {
      const c = S.convs.get(S.current);
      if (!c) return;
      if (atBottom()) { showJump(false); maybeMarkRead(); }
      if ($("pane").scrollTop <= NEAR_TOP) loadOlder(c);
    }, { passive: true });
    $("jump").addEventListener("click", () => {
      const p = $("pane");
      p.scrollTop = p.scrollHeight;
      showJump(false);
      maybeMarkRead();
      $("text").focus();
    });
  }

  function showJump(on) { $("jump").hidden = !on; }

  // maybeMarkRead marks the open conversation read when its newest message
  // can be seen: the tab is visible and the view is at the bottom.
  function maybeMarkRead() {
    const c = S.convs.get(S.current);
    if (!c || document.hidden || !atBottom()) return;
    const seq = lastSeq(c);
    if (seq) setRead(c, seq);
    if (c.unread) { c.unread = 0; renderSidebar(); }
  }

  // ---- sending ----

  function setupComposer() {
    const text = $("text");
    $("composer").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
    text.addEventListener("keydown", (e) => {
      if (S.suggest.open && handleSuggestKey(e)) return;
      if (e.key !== "Enter" || e.isComposing || e.keyCode === 229) return; // 229: an IME is composing (Chinese input)
      if (e.shiftKey && !e.ctrlKey && !e.metaKey) return; // Shift+Enter: a new line
      e.preventDefault(); // Enter, Ctrl+Enter, Cmd+Enter: send
      submit();
    });
    text.addEventListener("input", () => {
      autosize();
      updateSuggest();
      const c = S.convs.get(S.current);
      const now = Date.now();
      if (c && text.value.trim() && now - S.typingSentAt > TYPING_SEND_MS) {
        S.typingSentAt = now;
        S.client.typing(c.kind === "room" ? c.name : { to: c.name });
      }
    });
    text.addEventListener("blur", () => setTimeout(closeSuggest, 150));
  }

  function autosize() {
    const text = $("text");
    text.style.height = "auto";
    text.style.height = Math.min(text.scrollHeight, 160) + "px";
  }

  function submit() {
    const text = $("text");
    const c = S.convs.get(S.current);
    const body = text.value;
    text.focus();
    if (!c || !body.trim()) return;
    text.value = "";
    autosize();
    closeSuggest();
    S.typingSentAt = 0;
    post(c, body);
    askNotificationsOnce();
  }

  // post shows the message as pending and sends it; a message with the
  // same id is stored once however often it is sent (client_id).
  function post(c, body, id) {
    id = id || ParleyClient.newClientID();
    c.pending.set(id, { text: body, failed: null, kind: c.kind, name: c.name, key: c.key });
    saveOutbox();
    if (S.current === c.key) {
      $("messages").querySelector('[data-client-id="' + CSS.escape(id) + '"]')?.remove();
      $("messages").querySelector(".conv-start.empty")?.remove();
      $("messages").append(pendingItem(c, id, c.pending.get(id)));
      $("pane").scrollTop = $("pane").scrollHeight;
      showJump(false);
    }
    const sent = c.kind === "room" ? S.client.send(c.name, body, { clientId: id }) : S.client.dm(c.name, body, { clientId: id });
    sent.then((m) => {
      onMessage(m); // normally the message event came first; this is a no-op then
      if (c.pending.delete(id)) saveOutbox();
      $("messages").querySelector('[data-client-id="' + CSS.escape(id) + '"]')?.remove();
    }, (err) => {
      const p = c.pending.get(id);
      if (!p) return;
      if (err.code === "rate_limited" || err.code === "muted") sendRefused(c, err);
      p.failed = errText(err);
      saveOutbox();
      const li = $("messages").querySelector('[data-client-id="' + CSS.escape(id) + '"]');
      if (li && S.current === c.key) li.replaceWith(pendingItem(c, id, p));
    });
    renderSidebar();
  }

  // The outbox survives a reload: what was typed while offline is sent
  // when the page comes back, with the same client_id.
  function saveOutbox() {
    const out = [];
    for (const c of S.convs.values()) for (const [id, p] of c.pending) out.push({ id, key: c.key, kind: c.kind, name: c.name, text: p.text, failed: p.failed });
    store.setJSON("outbox", out);
  }

  function resendOutbox() {
    for (const p of store.json("outbox", [])) {
      if (!p || !p.id || !p.text) continue;
      const c = p.kind === "dm" ? ensureConv(p.key, "dm", p.name) : ensureConv(p.key, "room", p.name);
      if (p.failed) { c.pending.set(p.id, { text: p.text, failed: p.failed }); continue; }
      post(c, p.text, p.id);
    }
    if (S.current) renderMessages();
    renderSidebar();
  }

  function askNotificationsOnce() {
    if (!("Notification" in window) || Notification.permission !== "default" || store.get("asked-notify")) return;
    store.set("asked-notify", "1");
    try { Notification.requestPermission(); } catch { /* old Safari: callback form only */ }
  }

  // ---- @ autocomplete ----

  function onlineNicks() {
    const c = S.convs.get(S.current);
    const seen = new Map();
    const add = (n) => { if (n && lower(n) !== lower(S.me) && !seen.has(lower(n))) seen.set(lower(n), n); };
    if (c && c.kind === "room") c.members.forEach(add);
    if (c && c.kind === "dm") add(c.name);
    for (const o of S.convs.values()) if (o.kind === "room") o.members.forEach(add);
    return [...seen.values()];
  }

  function updateSuggest() {
    const text = $("text");
    const before = text.value.slice(0, text.selectionStart);
    const m = /(^|\s)@([\p{L}\p{N}_.\-]*)$/u.exec(before);
    if (!m) { closeSuggest(); return; }
    const prefix = lower(m[2]);
    const items = onlineNicks().filter((n) => lower(n).startsWith(prefix)).slice(0, 8);
    if (!items.length) { closeSuggest(); return; }
    S.suggest = { open: true, items, index: 0, start: before.length - m[2].length - 1 };
    renderSuggest();
  }

  function renderSuggest() {
    const ul = $("suggest");
    ul.textContent = "";
    S.suggest.items.forEach((n, i) => {
      const li = el("li", i === S.suggest.index ? "active" : "", "@" + n);
      li.id = "suggest-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(i === S.suggest.index));
      li.addEventListener("mousedown", (e) => { e.preventDefault(); S.suggest.index = i; pickSuggest(); });
      ul.append(li);
    });
    ul.hidden = false;
    $("text").setAttribute("aria-expanded", "true");
    $("text").setAttribute("aria-activedescendant", "suggest-" + S.suggest.index);
  }

  function handleSuggestKey(e) {
    const n = S.suggest.items.length;
    switch (e.key) {
      case "ArrowDown": S.suggest.index = (S.suggest.index + 1) % n; break;
      case "ArrowUp": S.suggest.index = (S.suggest.index + n - 1) % n; break;
      case "Enter": case "Tab":
        if (e.shiftKey || e.isComposing) return false;
        pickSuggest(); break;
      case "Escape": closeSuggest(); break;
      default: return false;
    }
    e.preventDefault();
    e.stopPropagation();
    if (S.suggest.open) renderSuggest();
    return true;
  }

  function pickSuggest() {
    const text = $("text");
    const nick = S.suggest.items[S.suggest.index];
    const caret = text.selectionStart;
    const insertText = "@" + nick + " ";
    text.value = text.value.slice(0, S.suggest.start) + insertText + text.value.slice(caret);
    const pos = S.suggest.start + insertText.length;
    text.setSelectionRange(pos, pos);
    closeSuggest();
    text.focus();
  }

  function closeSuggest() {
    S.suggest.open = false;
    $("suggest").hidden = true;
    $("text").setAttribute("aria-expanded", "false");
    $("text").removeAttribute("aria-activedescendant");
  }

  // ---- accounts and roles ----

  function setRole(role) {
    role = role || "";
    const changed = role !== S.role;
    S.role = role;
    if (!changed) return;
    if (!isMod()) closeModMenu();
    renderAccount();
    if (S.current) { renderMessages(); renderMembers(); renderHeader(); }
  }

  // renderAccount shows who I am and what I may do: register a guest
  // nickname, change an account's password, open the moderation page.
  function renderAccount() {
    if (!S.me) return;
    $("whoami").textContent = S.role ? t("nav.whoamiRole", { nick: S.me, role: t("role." + S.role) }) : t("nav.whoami", { nick: S.me });
    $("register-btn").hidden = S.registered;
    $("password-btn").hidden = !S.registered;
    $("admin-link").hidden = !isMod();
  }

  function setupAccount() {
    $("register-btn").addEventListener("click", () => openAccountDialog("register"));
    $("password-btn").addEventListener("click", () => openAccountDialog("password"));
    $("account-cancel").addEventListener("click", closeAccountDialog);
    $("account-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const mode = $("account-dialog").dataset.mode;
      const fresh = $("new-password").value;
      const req = mode === "register"
        ? api("POST", "/api/auth/register", Object.assign({ nickname: S.me, password: fresh }, S.client && S.client.token ? { token: S.client.token } : {}))
        : api("POST", "/api/auth/password", { current_password: $("current-password").value, new_password: fresh });
      $("account-submit").disabled = true;
      req.then(() => {
        closeAccountDialog();
        if (mode === "register") { toast(t("account.registered", { nick: S.me })); signedIn(S.me); }
        else toast(t("account.passwordChanged"));
      }, (err) => { $("account-error").textContent = errText(err); })
        .finally(() => { $("account-submit").disabled = false; });
    });
  }

  function openAccountDialog(mode) {
    const d = $("account-dialog");
    d.dataset.mode = mode;
    $("account-title").textContent = mode === "register" ? t("account.registerTitle", { nick: S.me }) : t("account.passwordTitle");
    $("account-intro").textContent = mode === "register" ? t("account.registerIntro", { nick: S.me }) : t("account.passwordIntro");
    $("current-row").hidden = mode === "register";
    $("current-password").required = mode !== "register";
    $("account-submit").textContent = mode === "register" ? t("login.submitRegister") : t("account.save");
    $("account-error").textContent = "";
    $("current-password").value = "";
    $("new-password").value = "";
    if (typeof d.showModal === "function") d.showModal(); else d.setAttribute("open", "");
    (mode === "register" ? $("new-password") : $("current-password")).focus();
  }

  function closeAccountDialog() {
    const d = $("account-dialog");
    if (!d.open) return;
    if (typeof d.close === "function") d.close(); else d.removeAttribute("open");
  }

  // ---- moderation ----

  const SLOW_CHOICES = [0, 5, 10, 30, 60, 300, 900, 3600];
  const DURATIONS = [["10m", "mod.d10m"], ["1h", "mod.d1h"], ["24h", "mod.d1d"], ["", "mod.dForever"]];

  function slowLabel(sec) {
    if (!sec) return t("mod.slowOff");
    return sec < 60 || sec % 60 ? t("mod.slowSeconds", { s: sec }) : t("mod.slowMinutes", { m: sec / 60 });
  }

  function setupModeration() {
    $("slow-select").addEventListener("change", () => {
      const c = S.convs.get(S.current);
      if (!c || c.kind !== "room") return;
      const seconds = Number($("slow-select").value);
      api("PUT", roomPath(c.name) + "/slow-mode", { seconds }).then(() => {
        c.slowMs = seconds * 1000;
        renderHeader();
        toast(t("mod.slowSet", { room: c.name, value: slowLabel(seconds) }));
      }, (err) => { renderHeader(); toast(errText(err)); });
    });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && S.modMenu) closeModMenu(true); });
  }

  // renderHeader shows the open room's slow mode, and to moderators the
  // control that changes it.
  function renderHeader() {
    const c = S.convs.get(S.current);
    const room = c && c.kind === "room";
    const sec = room ? Math.round((c.slowMs || 0) / 1000) : 0;
    $("slow-badge").hidden = !sec;
    $("slow-badge").textContent = sec ? t("room.slowMode", { s: sec }) : "";
    $("slow-label").hidden = !(room && isMod());
    if (!room || !isMod()) return;
    const sel = $("slow-select");
    const choices = SLOW_CHOICES.includes(sec) ? SLOW_CHOICES : [...SLOW_CHOICES, sec].sort((a, b) => a - b);
    sel.textContent = "";
    for (const v of choices) { const o = el("option", null, slowLabel(v)); o.value = String(v); sel.append(o); }
    sel.value = String(sec);
  }

  function onRoomSettings(e) {
    const c = S.convs.get(lower(e.room));
    if (!c) return;
    c.slowMs = e.slow_mode_ms || 0;
    if (S.current === c.key) renderHeader();
    if (!c.slowMs && S.notice && S.notice.kind === "slow") hideNotice();
  }

  function onMuted(e, muted) {
    const key = lower(e.room);
    if (lower(e.nickname) !== lower(S.me)) return;
    if (muted) S.mutes.set(key, { until: e.until || 0, reason: e.reason || "" });
    else S.mutes.delete(key);
    if (S.current !== key) return;
    if (muted) showMuteNotice(S.convs.get(key));
    else if (S.notice && S.notice.kind === "muted") hideNotice();
  }

  function showMuteNotice(c, message) {
    const m = S.mutes.get(c.key);
    if (!m) { showNotice({ kind: "muted", room: c.key, text: t("notice.mutedNow", { message: message || "" }) }); return; }
    if (m.until && m.until <= Date.now()) { S.mutes.delete(c.key); return; }
    showNotice({ kind: "muted", room: c.key, until: m.until || 0 });
  }

  // sendRefused explains, by the composer, why a message was not sent and
  // when one can be: the message itself stays, marked, to send again.
  function sendRefused(c, err) {
    if (S.current !== c.key) return;
    if (err.code === "muted") { showMuteNotice(c, err.message); return; }
    const slow = c.kind === "room" && c.slowMs > 0 && /slow/i.test(err.message || "");
    showNotice({ kind: slow ? "slow" : "rate", room: c.key, until: Date.now() + Math.max(1000, err.retryAfterMs || 1000) });
  }

  function showNotice(n) {
    S.notice = n;
    clearInterval(S.noticeTimer);
    renderNotice();
    if (n.until && n.kind !== "muted") S.noticeTimer = setInterval(renderNotice, 250);
    else if (n.until) S.noticeTimer = setInterval(renderNotice, 1000);
  }

  function hideNotice() {
    S.notice = null;
    clearInterval(S.noticeTimer);
    $("notice").hidden = true;
    $("notice").textContent = "";
  }

  // renderNotice draws the notice, counting down to when sending works.
  function renderNotice() {
    const n = S.notice;
    if (!n) return;
    const left = n.until ? n.until - Date.now() : 0;
    if (n.until && left <= 0) { if (n.kind === "muted") S.mutes.delete(n.room); hideNotice(); return; }
    const s = Math.ceil(left / 1000);
    let text = n.text;
    const room = (S.convs.get(n.room) || {}).name || n.room;
    if (n.kind === "rate") text = t("notice.rate", { s });
    else if (n.kind === "slow") text = t("notice.slow", { s });
    else if (n.kind === "muted" && !n.text) {
      text = n.until ? t("notice.muted", { room, time: new Intl.DateTimeFormat(window.i18n.current(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(n.until)) })
        : t("notice.mutedForever", { room });
    }
    const p = $("notice");
    p.className = "notice " + n.kind;
    p.textContent = text;
    p.hidden = false;
  }

  // The moderation menu of a member: kick, mute in this room, ban, each
  // with the reason and duration picked in it.
  function toggleModMenu(li, button, c, nick) {
    if (S.modMenu && S.modMenu.room === c.key && lower(S.modMenu.nick) === lower(nick)) { closeModMenu(true); return; }
    closeModMenu();
    const menu = el("div", "mod-menu");
    menu.setAttribute("role", "group");
    menu.setAttribute("aria-label", t("mod.menuTitle", { nick }));
    const head = el("div", "mod-head");
    head.append(el("strong", null, t("mod.menuTitle", { nick })));
    const close = el("button", "icon-button", "×");
    close.type = "button";
    close.setAttribute("aria-label", t("mod.close"));
    close.title = t("mod.close");
    close.addEventListener("click", () => closeModMenu(true));
    head.append(close);
    const uid = "mod-" + Math.random().toString(36).slice(2, 8);
    const reasonLabel = el("label", null, t("mod.reason"));
    reasonLabel.htmlFor = uid + "-reason";
    const reason = el("input", "mod-reason");
    reason.id = uid + "-reason";
    reason.maxLength = 500;
    reason.autocomplete = "off";
    const durLabel = el("label", null, t("mod.duration"));
    durLabel.htmlFor = uid + "-duration";
    const dur = el("select", "mod-duration");
    dur.id = uid + "-duration";
    for (const [v, k] of DURATIONS) { const o = el("option", null, t(k)); o.value = v; dur.append(o); }
    dur.value = "1h";
    const status = el("p", "mod-status");
    status.setAttribute("role", "status");
    const act = (key, cls, run) => {
      const b = el("button", "mod-action " + cls, t(key));
      b.type = "button";
      b.dataset.action = cls;
      b.addEventListener("click", () => {
        for (const x of menu.querySelectorAll("button.mod-action")) x.disabled = true;
        status.classList.remove("failed");
        run().then((text) => { status.textContent = text; }, (err) => { status.textContent = errText(err); status.classList.add("failed"); })
          .finally(() => { for (const x of menu.querySelectorAll("button.mod-action")) x.disabled = false; });
      });
      return b;
    };
    const body = () => ({ reason: reason.value.trim(), duration: dur.value });
    const ban = (kind) => () => api("POST", "/api/moderation/bans", Object.assign({ kind, target: nick }, body()))
      .then(() => t("mod.banned", { nick, kind: t("mod.kind." + kind) }));
    const actions = el("div", "mod-actions");
    actions.append(
      act("mod.kick", "kick", () => api("POST", "/api/moderation/kick", { nickname: nick, reason: reason.value.trim() }).then(() => t("mod.kicked", { nick }))),
      act("mod.mute", "mute", () => api("POST", roomPath(c.name) + "/mutes", Object.assign({ nickname: nick }, body())).then(() => t("mod.muted", { nick, room: c.name }))),
      act("mod.unmute", "unmute", () => api("DELETE", roomPath(c.name) + "/mutes/" + encodeURIComponent(nick)).then(() => t("mod.unmuted", { nick, room: c.name }))),
      act("mod.banNickname", "ban-nickname", ban("nickname")),
      act("mod.banAccount", "ban-account", ban("account")),
      act("mod.banIP", "ban-ip", ban("ip")),
    );
    menu.append(head, reasonLabel, reason, durLabel, dur, actions, status);
    S.modMenu = { room: c.key, nick, el: menu, button };
    button.setAttribute("aria-expanded", "true");
    li.append(menu);
    reason.focus();
  }

  function closeModMenu(focusBack) {
    const m = S.modMenu;
    if (!m) return;
    S.modMenu = null;
    m.el.remove();
    const b = document.querySelector('#members .member-menu[data-nick="' + CSS.escape(m.nick) + '"]');
    if (b) { b.setAttribute("aria-expanded", "false"); if (focusBack) b.focus(); }
  }

  // ---- announcements ----

  function showAnnouncement(a) {
    if (!a || S.dismissed.has(a.id) || document.querySelector('[data-announcement="' + CSS.escape(String(a.id)) + '"]')) return;
    const div = el("div", "banner");
    div.dataset.announcement = a.id;
    div.setAttribute("role", "status");
    const body = el("div", "body");
    body.innerHTML = a.html; // the server's sanitised rendering
    fixLinks(body);
    const close = el("button", "icon-button", "×");
    close.type = "button";
    close.setAttribute("aria-label", t("banner.dismiss"));
    close.title = t("banner.dismiss");
    close.addEventListener("click", () => {
      S.dismissed.add(a.id);
      store.setJSON("dismissed", [...S.dismissed].slice(-50));
      div.remove();
    });
    div.append(body, close);
    $("banners").append(div);
  }

  // ---- status, settings, errors ----

  function setStatus(state) {
    const s = $("status");
    const known = ["connecting", "open", "reconnecting", "offline", "closed"];
    state = known.includes(state) ? state : "connecting";
    if (state !== "offline" && navigator.onLine === false && S.client) state = "offline";
    s.dataset.state = state;
    s.className = "status " + state;
    s.textContent = t("status." + state);
  }

  function setupSettings() {
    const sel = $("lang");
    for (const [code, name] of Object.entries(window.i18n.LANGS)) {
      const o = el("option", null, name);
      o.value = code;
      o.lang = code;
      sel.append(o);
    }
    sel.value = window.i18n.current();
    sel.addEventListener("change", () => {
      window.i18n.setLanguage(sel.value);
      relabel();
    });
    const saved = store.get("theme");
    if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
    $("theme").addEventListener("click", () => {
      const next = theme() === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      store.set("theme", next);
      relabelTheme();
    });
    matchMedia("(prefers-color-scheme: dark)").addEventListener?.("change", relabelTheme);
    relabelTheme();
    $("logout").addEventListener("click", logout);
  }

  function theme() {
    return document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  }

  function relabelTheme() {
    const key = theme() === "dark" ? "settings.toLight" : "settings.toDark";
    $("theme").dataset.i18nLabel = key;
    $("theme").dataset.i18nTitle = key;
    $("theme").setAttribute("aria-label", t(key));
    $("theme").title = t(key);
  }

  // relabel redraws the text that is not in data-i18n attributes after
  // the language changed.
  function relabel() {
    relabelTheme();
    renderTitle();
    if (S.client) setStatus(S.client.state);
    if (S.me) renderAccount();
    if (S.notice) renderNotice();
    if (S.current) {
      const keep = $("pane").scrollTop;
      const c = S.convs.get(S.current);
      $("conv-title").textContent = c.kind === "room" ? "# " + c.name : t("room.dmWith", { nick: c.name });
      $("text").placeholder = t("room.messageTo", { target: target(c) });
      $("text").setAttribute("aria-label", t("room.messageTo", { target: target(c) }));
      renderMessages();
      renderMembers();
      renderTyping();
      renderSidebar();
      renderHeader();
      $("pane").scrollTop = keep;
    }
  }

  function logout() {
    if (store.get("account")) api("POST", "/api/auth/logout").catch(() => { /* the cookie may have expired already */ });
    if (S.client) S.client.close();
    S.client = null;
    S.me = null;
    S.role = "";
    S.registered = false;
    S.mutes.clear();
    closeAccountDialog();
    S.convs.clear();
    S.current = null;
    for (const k of ["token", "account", "rooms", "current", "outbox", "read"]) store.set(k, null);
    S.read = {};
    $("messages").textContent = "";
    showLogin();
  }

  // For tests and the curious: the page's state, read-only by convention.
  window.parleyApp = { state: S, select, openDM };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
