// Pieces both of Parley's pages use (the chat, app.js, and the admin page,
// admin.js): the HTTP API call with the login cookie, the text of an error,
// and the toast. Loaded after i18n.js; gives window.parleyUI.
"use strict";

(function () {
  const { t } = window.i18n;

  // api calls the HTTP API with the login cookie. It resolves with the
  // JSON answer (null for 204) and rejects with {status, code, message,
  // retryAfterMs}, the shape of the WebSocket's errors.
  async function api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    let res;
    try { res = await fetch(path, opts); } catch (e) { throw { status: 0, code: "unavailable", message: String(e && e.message || e) }; }
    let data = null;
    if (res.status !== 204) { try { data = await res.json(); } catch { data = null; } }
    if (!res.ok) {
      const e = (data && data.error) || {};
      throw {
        status: res.status, code: e.code || "http_" + res.status, message: e.message || res.statusText || String(res.status),
        retryAfterMs: (Number(res.headers.get("Retry-After")) || 0) * 1000,
      };
    }
    return data;
  }

  // errText is an error as the person reads it, in their language: the
  // code's own text where i18n.js has one, else the server's message.
  function errText(err) {
    const params = { message: (err && err.message) || "", s: Math.max(1, Math.ceil(((err && err.retryAfterMs) || 1000) / 1000)) };
    const key = "err." + (err && err.code);
    return window.i18n.STRINGS.en[key] ? t(key, params) : t("err.generic", params);
  }

  // toast shows text in the page's #toast for five seconds.
  function toast(text) {
    const tt = document.getElementById("toast");
    tt.textContent = text;
    tt.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { tt.hidden = true; }, 5000);
  }

  window.parleyUI = { api, errText, toast };
})();
