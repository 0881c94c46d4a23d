// Parley's page text in English and Simplified Chinese. The language
// follows the browser (navigator.languages) until the reader picks one;
// the choice is kept in localStorage. Static text in index.html names its
// key in data-i18n (textContent), data-i18n-placeholder, data-i18n-label
// (aria-label) or data-i18n-title; app.js calls t() for the rest.
"use strict";

(function (global) {
  const STRINGS = {
    en: {
      "app.title": "Parley",
      "login.heading": "Join the chat",
      "login.label": "Pick a nickname",
      "login.help": "1–32 letters, digits, _ - or . — no sign-up needed.",
      "login.submit": "Join",
      "nav.open": "Open the room list",
      "nav.close": "Close the room list",
      "nav.rooms": "Rooms",
      "nav.whoami": "You are {nick}",
      "nav.dms": "Direct messages",
      "nav.noDMs": "Click a person's name to talk privately.",
      "nav.newRoom": "Create or join a room",
      "nav.roomName": "Room name",
      "nav.join": "Join",
      "nav.cancel": "Cancel",
      "nav.unread": "{n} unread",
      "room.leave": "Leave room",
      "room.members": "People here",
      "room.membersToggle": "Show the people here",
      "room.online": "Online — {n}",
      "room.onlineShort": "{n} online",
      "room.dmWith": "Private conversation with {nick}",
      "room.you": "(you)",
      "room.messageTo": "Message {target}",
      "room.empty": "No messages yet. Say hello!",
      "room.loadingOlder": "Loading older messages…",
      "room.start": "This is the beginning of {target}.",
      "msg.unreadMarker": "New messages",
      "msg.newBelow": "New messages ↓",
      "msg.pending": "sending…",
      "msg.failed": "not sent: {reason}",
      "msg.retry": "Retry",
      "msg.discard": "Discard",
      "msg.you": "You",
      "composer.label": "Message",
      "composer.send": "Send",
      "composer.hint": "**bold** _italic_ `code` [link](https://…) > quote · @name mentions · Enter sends, Shift+Enter new line",
      "composer.suggestions": "Nicknames",
      "typing.one": "{a} is typing…",
      "typing.two": "{a} and {b} are typing…",
      "typing.many": "Several people are typing…",
      "status.connecting": "Connecting…",
      "status.open": "Connected",
      "status.reconnecting": "Reconnecting…",
      "status.offline": "Offline",
      "status.closed": "Disconnected",
      "settings.theme": "Theme",
      "settings.toDark": "Switch to the dark theme",
      "settings.toLight": "Switch to the light theme",
      "settings.language": "Language",
      "settings.logout": "Log out",
      "banner.dismiss": "Dismiss announcement",
      "banner.label": "Announcement",
      "notify.mention": "{nick} mentioned you in #{room}",
      "notify.dm": "Message from {nick}",
      "toast.mention": "{nick} mentioned you in #{room}",
      "system.joined": "{nick} joined",
      "system.left": "{nick} left",
      "err.nickname_taken": "That nickname is in use right now. Pick another one.",
      "err.invalid": "That is not allowed: {message}",
      "err.rate_limited": "Slow down — try again in {s} s.",
      "err.too_large": "The message is too long.",
      "err.unknown_user": "Nobody has that nickname.",
      "err.not_joined": "Join the room first.",
      "err.bad_token": "Your session has expired. Pick a nickname again.",
      "err.unavailable": "The server is busy. Try again shortly.",
      "err.generic": "Something went wrong: {message}",
      "err.roomName": "Room names are 1–64 letters, digits, _ - or .",
    },
    "zh-CN": {
      "app.title": "Parley",
      "login.heading": "加入聊天",
      "login.label": "选择一个昵称",
      "login.help": "1–32 个字符：文字、数字、_ - 或 .，无需注册。",
      "login.submit": "加入",
      "nav.open": "打开房间列表",
      "nav.close": "关闭房间列表",
      "nav.rooms": "房间",
      "nav.whoami": "你的昵称：{nick}",
      "nav.dms": "私信",
      "nav.noDMs": "点击成员的名字即可私聊。",
      "nav.newRoom": "创建或加入房间",
      "nav.roomName": "房间名",
      "nav.join": "加入",
      "nav.cancel": "取消",
      "nav.unread": "{n} 条未读",
      "room.leave": "离开房间",
      "room.members": "在线成员",
      "room.membersToggle": "显示在线成员",
      "room.online": "在线 — {n}",
      "room.onlineShort": "{n} 人在线",
      "room.dmWith": "与 {nick} 的私聊",
      "room.you": "（你）",
      "room.messageTo": "发送到 {target}",
      "room.empty": "还没有消息，打个招呼吧！",
      "room.loadingOlder": "正在加载更早的消息…",
      "room.start": "这是 {target} 的开头。",
      "msg.unreadMarker": "新消息",
      "msg.newBelow": "新消息 ↓",
      "msg.pending": "发送中…",
      "msg.failed": "未发送：{reason}",
      "msg.retry": "重试",
      "msg.discard": "放弃",
      "msg.you": "你",
      "composer.label": "消息",
      "composer.send": "发送",
      "composer.hint": "**粗体** _斜体_ `代码` [链接](https://…) > 引用 · @昵称 提及 · Enter 发送，Shift+Enter 换行",
      "composer.suggestions": "昵称",
      "typing.one": "{a} 正在输入…",
      "typing.two": "{a} 和 {b} 正在输入…",
      "typing.many": "多人正在输入…",
      "status.connecting": "正在连接…",
      "status.open": "已连接",
      "status.reconnecting": "正在重新连接…",
      "status.offline": "离线",
      "status.closed": "已断开",
      "settings.theme": "主题",
      "settings.toDark": "切换到深色主题",
      "settings.toLight": "切换到浅色主题",
      "settings.language": "语言",
      "settings.logout": "退出",
      "banner.dismiss": "关闭公告",
      "banner.label": "公告",
      "notify.mention": "{nick} 在 #{room} 提到了你",
      "notify.dm": "来自 {nick} 的私信",
      "toast.mention": "{nick} 在 #{room} 提到了你",
      "system.joined": "{nick} 加入了",
      "system.left": "{nick} 离开了",
      "err.nickname_taken": "这个昵称正在被使用，请换一个。",
      "err.invalid": "不允许：{message}",
      "err.rate_limited": "发得太快了，请 {s} 秒后再试。",
      "err.too_large": "消息太长了。",
      "err.unknown_user": "没有这个昵称的用户。",
      "err.not_joined": "请先加入房间。",
      "err.bad_token": "会话已过期，请重新选择昵称。",
      "err.unavailable": "服务器繁忙，请稍后再试。",
      "err.generic": "出错了：{message}",
      "err.roomName": "房间名为 1–64 个文字、数字、_ - 或 .",
    },
  };

  const LANGS = { en: "English", "zh-CN": "简体中文" };
  let lang = "en";

  // pick maps a list of BCP 47 tags to a language we have.
  function pick(tags) {
    for (const tag of tags || []) {
      const t = String(tag).toLowerCase();
      if (t.startsWith("zh")) return "zh-CN"; // the simplified text is closer than English for every zh reader
      if (t.startsWith("en")) return "en";
    }
    return "en";
  }

  function saved() { try { return localStorage.getItem("parley.lang"); } catch { return null; } }

  /** The language in use: "en" or "zh-CN". */
  function current() { return lang; }

  /** Sets the language ("auto" follows the browser) and applies it to the page. */
  function setLanguage(choice) {
    try {
      if (!choice || choice === "auto") localStorage.removeItem("parley.lang");
      else localStorage.setItem("parley.lang", choice);
    } catch { /* private mode: the choice lasts until reload */ }
    lang = choice && STRINGS[choice] ? choice : pick(global.navigator ? navigator.languages || [navigator.language] : []);
    apply(document);
  }

  /**
   * The text for key with {name} placeholders filled from params. Unknown
   * keys come back as the key, so a missing string is visible, not blank.
   */
  function t(key, params) {
    const s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
    return params ? s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m)) : s;
  }

  /** Fills the data-i18n* attributes under root. */
  function apply(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.documentElement) root.documentElement.lang = lang;
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
    for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  }

  lang = STRINGS[saved()] ? saved() : pick(global.navigator ? navigator.languages || [navigator.language] : []);
  global.i18n = { t, apply, setLanguage, current, LANGS, STRINGS, pick, choice: () => saved() || "auto" };
})(typeof window !== "undefined" ? window : globalThis);
