// Parley's moderation and administration page (/admin.html): the HTTP API
// (/api/…) with the login cookie of the chat page. Moderators see the bans
// and the action log; admins also announcements, roles and API keys. Text
// from the server is only ever set as textContent.
"use strict";

(function () {
  const { t } = window.i18n;
  const { api, errText, toast } = window.parleyUI;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
  const LOG_PAGE = 50;
  const A = { me: null, logBefore: 0 };

  function when(s) {
    if (!s) return "";
    const d = new Date(s);
    if (isNaN(d) || d.getUTCFullYear() < 1971) return "";
    return new Intl.DateTimeFormat(window.i18n.current(), { dateStyle: "medium", timeStyle: "short" }).format(d);
  }

  // fromLocal turns a datetime-local value into RFC 3339 (UTC).
  function fromLocal(v) { return v ? new Date(v).toISOString() : undefined; }

  function button(label, cls, onClick) {
    const b = el("button", cls || "text-button", label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function row(cells, actions) {
    const tr = el("tr");
    for (const c of cells) tr.append(el("td", null, c == null ? "" : String(c)));
    const td = el("td", "actions");
    for (const a of actions || []) td.append(a);
    tr.append(td);
    return tr;
  }

  // ---- start ----

  function init() {
    window.i18n.apply(document);
    document.title = t("admin.pageTitle");
    const saved = (() => { try { return localStorage.getItem("parley.theme"); } catch { return null; } })();
    if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
    const sel = $("lang");
    for (const [code, name] of Object.entries(window.i18n.LANGS)) { const o = el("option", null, name); o.value = code; o.lang = code; sel.append(o); }
    sel.value = window.i18n.current();
    sel.addEventListener("change", () => { window.i18n.setLanguage(sel.value); document.title = t("admin.pageTitle"); renderWho(); reload(); });
    setupForms();
    api("GET", "/api/auth/me").then((me) => {
      $("loading").hidden = true;
      A.me = me;
      renderWho();
      const role = me && me.role;
      if (role !== "moderator" && role !== "admin") { gate(t("admin.noRights", { nick: me.nickname })); return; }
      for (const e of document.querySelectorAll("[data-need]")) e.hidden = e.dataset.need === "admin" && role !== "admin";
      $("admin-nav").hidden = false;
      reload();
    }, (err) => {
      $("loading").hidden = true;
      gate(err.status === 401 || err.code === "unauthorized" ? t("admin.notSignedIn") : errText(err));
    });
  }

  function gate(text) {
    $("gate-text").textContent = text;
    $("gate").hidden = false;
  }

  function renderWho() {
    if (A.me) $("who").textContent = A.me.role ? t("nav.whoamiRole", { nick: A.me.nickname, role: t("role." + A.me.role) }) : t("nav.whoami", { nick: A.me.nickname });
  }

  function isAdmin() { return A.me && A.me.role === "admin"; }

  function reload() {
    if (!A.me || !A.me.role) return;
    if (isAdmin()) { loadAnnouncements(); loadKeys(); }
    loadBans();
    A.logBefore = 0;
    $("log-list").textContent = "";
    loadLog();
  }

  // ---- announcements ----

  function loadAnnouncements() {
    api("GET", "/api/announcements?all=true").then((res) => {
      const list = $("ann-list");
      list.textContent = "";
      const anns = (res && res.announcements) || [];
      $("ann-empty").hidden = anns.length > 0;
      const now = Date.now();
      for (const a of anns) {
        const starts = a.starts_at ? Date.parse(a.starts_at) : 0, ends = a.expires_at ? Date.parse(a.expires_at) : 0;
        const state = starts > now ? t("admin.annScheduled") : ends && ends <= now ? t("admin.annExpired") : t("admin.annActive");
        const tr = row([a.text, state, when(a.starts_at || a.created_at), when(a.expires_at), a.by || ""], [
          button(t("admin.delete"), "text-button danger", () => api("DELETE", "/api/announcements/" + encodeURIComponent(a.id)).then(() => { toast(t("admin.annDeleted")); loadAnnouncements(); loadLogFresh(); }, (err) => toast(errText(err)))),
        ]);
        tr.dataset.id = a.id;
        if (starts > now) tr.classList.add("scheduled");
        list.append(tr);
      }
    }, (err) => { $("ann-error").textContent = errText(err); });
  }

  // ---- API keys ----

  function loadKeys() {
    api("GET", "/api/keys").then((res) => {
      const list = $("key-list");
      list.textContent = "";
      const keys = (res && res.keys) || [];
      $("key-empty").hidden = keys.length > 0;
      for (const k of keys) {
        const revoked = !!k.revoked_at;
        const actions = revoked ? [] : [button(t("admin.revoke"), "text-button danger", () => api("DELETE", "/api/keys/" + encodeURIComponent(k.id)).then(() => { toast(t("admin.keyRevoked", { name: k.name })); loadKeys(); loadLogFresh(); }, (err) => toast(errText(err))))];
        const tr = row([k.name, k.prefix ? k.prefix + "…" : "", k.created_by || "", when(k.created_at), revoked ? t("admin.keyRevokedAt", { time: when(k.revoked_at) }) : t("admin.keyActive")], actions);
        tr.dataset.id = k.id;
        if (revoked) tr.classList.add("revoked");
        list.append(tr);
      }
    }, (err) => { $("key-error").textContent = errText(err); });
  }

  // ---- bans ----

  function loadBans() {
    api("GET", "/api/moderation/bans").then((res) => {
      $("ban-error").textContent = "";
      const list = $("ban-list");
      list.textContent = "";
      const bans = (res && res.bans) || [];
      $("ban-empty").hidden = bans.length > 0;
      for (const b of bans) {
        const who = b.kind === "ip" ? [b.value, b.nickname && "(" + b.nickname + ")"].filter(Boolean).join(" ") || t("mod.kind.ip") : b.nickname || b.value;
        const tr = row([t("mod.kind." + b.kind), who, b.reason || "", b.by || "", when(b.created_at), b.expires_at ? when(b.expires_at) : t("mod.dForever")], [
          button(t("admin.lift"), "text-button", () => api("DELETE", "/api/moderation/bans/" + encodeURIComponent(b.id)).then(() => { toast(t("admin.banLifted")); loadBans(); loadLogFresh(); }, (err) => toast(errText(err)))),
        ]);
        tr.dataset.id = b.id;
        list.append(tr);
      }
    }, (err) => { $("ban-error").textContent = errText(err); });
  }

  // ---- action log ----

  function loadLogFresh() {
    A.logBefore = 0;
    $("log-list").textContent = "";
    loadLog();
  }

  function loadLog() {
    const q = "?limit=" + LOG_PAGE + (A.logBefore ? "&before=" + A.logBefore : "");
    api("GET", "/api/moderation/log" + q).then((res) => {
      $("log-error").textContent = "";
      const acts = (res && res.actions) || [];
      const list = $("log-list");
      for (const a of acts) {
        const tr = row([when(a.at), a.actor, a.kind, a.target || "", a.room || "", a.detail || ""]);
        tr.lastChild.remove(); // no actions column in the log
        tr.dataset.id = a.id;
        list.append(tr);
        if (!A.logBefore || a.id < A.logBefore) A.logBefore = a.id;
      }
      $("log-empty").hidden = list.children.length > 0;
      $("log-more").hidden = acts.length < LOG_PAGE;
    }, (err) => { $("log-error").textContent = errText(err); });
  }

  // ---- forms ----

  function setupForms() {
    $("ann-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const body = { text: $("ann-text").value.trim() };
      if (!body.text) return;
      const starts = fromLocal($("ann-start").value), ends = fromLocal($("ann-end").value);
      if (starts) body.starts_at = starts;
      if (ends) body.ends_at = ends;
      $("ann-error").textContent = "";
      $("ann-submit").disabled = true;
      api("POST", "/api/announcements", body).then(() => {
        $("ann-text").value = ""; $("ann-start").value = ""; $("ann-end").value = "";
        toast(t("admin.annCreated"));
        loadAnnouncements();
        loadLogFresh();
      }, (err) => { $("ann-error").textContent = errText(err); }).finally(() => { $("ann-submit").disabled = false; });
    });

    $("role-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const nick = $("role-nick").value.trim();
      const role = $("role-role").value;
      if (!nick) return;
      $("role-status").classList.remove("failed");
      api("PUT", "/api/users/" + encodeURIComponent(nick) + "/role", { role }).then(() => {
        $("role-status").textContent = role ? t("admin.roleGranted", { nick, role: t("role." + role) }) : t("admin.roleRevoked", { nick });
        loadLogFresh();
      }, (err) => { $("role-status").textContent = errText(err); $("role-status").classList.add("failed"); });
    });

    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const name = $("key-name").value.trim();
      if (!name) return;
      $("key-error").textContent = "";
      api("POST", "/api/keys", { name }).then((res) => {
        $("key-name").value = "";
        $("key-secret-value").textContent = (res && res.secret) || "";
        $("key-secret").hidden = false;
        loadKeys();
        loadLogFresh();
      }, (err) => { $("key-error").textContent = errText(err); });
    });
    $("key-copy").addEventListener("click", () => {
      const secret = $("key-secret-value").textContent;
      const done = () => toast(t("admin.copied"));
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(secret).then(done, () => selectSecret());
      else selectSecret();
    });

    $("log-more").addEventListener("click", loadLog);
    $("log-refresh").addEventListener("click", () => { loadBans(); loadLogFresh(); });
  }

  // selectSecret selects the secret for the reader to copy by hand.
  function selectSecret() {
    const r = document.createRange();
    r.selectNodeContents($("key-secret-value"));
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(r);
    toast(t("admin.copyByHand"));
  }

  window.parleyAdmin = { state: A, reload };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
