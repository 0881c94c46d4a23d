package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-chat/parley/internal/wstest"
)

// The moderation flow in a real browser: an admin logs in through the page,
// deletes a troll's message, sets slow mode, mutes and bans the troll from
// the member menu, and publishes announcements on /admin.html; guests see
// the tombstone, the slow-mode notice with its countdown and the
// announcements. (Browser rule as in browser_test.go: skipped without
// chromium, failed in CI.)

const modPassword = "correct horse battery staple"

// trollIP is the troll's address as a trusted proxy reports it, so that
// banning it does not ban the loopback address the pages come from.
const trollIP = "203.0.113.66"

func TestModerationBrowser(t *testing.T) {
	chromiumPath(t)
	args := []string{"--admin-token", "s3cret", "--rate", "1000", "--burst", "1000"}
	proxyFlag := trustedProxiesFlag()
	if proxyFlag != "" {
		args = append(args, proxyFlag, "127.0.0.1/8")
	}
	s := startServer(t, args...)
	makeAdmin(t, s, "boss", modPassword)

	b := newBrowser(t)
	boss := b.open(s.URL())
	boss.loginAccount("boss", modPassword)
	boss.waitJS("the admin's controls", `window.parleyApp.state.role === 'admin' && !document.getElementById('admin-link').hidden && !document.getElementById('slow-label').hidden`)
	var who string
	boss.eval(`document.getElementById('whoami').textContent`, &who)
	if !strings.Contains(who, "boss") || !strings.Contains(who, "admin") {
		t.Errorf("whoami = %q; want the nickname and the role", who)
	}

	// A guest who asks for the registered nickname is told to log in.
	wren := b.open(s.URL())
	wren.run(chromedp.WaitVisible(chromedp.ID("nick")), chromedp.SetValue(chromedp.ID("nick"), "boss"), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	wren.waitJS("the registered-nickname hint", `document.getElementById('login-error').textContent.includes('registered') && !document.getElementById('password-row').hidden`)
	wren.run(chromedp.Click(chromedp.ID("mode-guest")))
	wren.login("wren")

	// The troll: a native client behind the trusted proxy.
	troll := dialFrom(t, s, trollIP)
	troll.Hello("troll")
	troll.Join("lobby")
	spam := troll.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "BUY CHEAP **STUFF** now"}).Msg()
	seq := spam.Num("seq")
	watcher := s.client("watcher")
	watcher.Join("lobby")

	// The admin deletes it: the button asks for a second click.
	boss.waitMessage("BUY CHEAP")
	wren.waitMessage("BUY CHEAP")
	li := fmt.Sprintf(`document.querySelector('#messages li.msg[data-seq="%d"]')`, seq)
	boss.run(runJS(li + `.querySelector('.msg-delete').click()`))
	boss.waitJS("the armed delete button", li+`.querySelector('.msg-tools.armed')`)
	boss.run(runJS(li + `.querySelector('.msg-delete').click()`))
	del, ok := troll.Wait(wstest.Timeout, func(f wstest.Frame) bool { return f.Type() == "message.deleted" })
	if !ok {
		var toast string
		boss.eval(`document.getElementById('toast').textContent`, &toast)
		t.Fatalf("the troll's client got no message.deleted (the admin's page says %q)", toast)
	}
	if m := del.Msg(); m.Num("seq") != seq || m["deleted"] != true || m.Str("text") != "" {
		t.Errorf("the troll's client got %v; want the tombstone of seq %d", del, seq)
	}
	for _, u := range []*user{boss, wren} {
		u.waitJS("the tombstone in place", li+`?.classList.contains('deleted') && `+li+`.innerText.includes('message deleted') && !document.getElementById('messages').innerText.includes('BUY CHEAP')`)
	}
	// History has the tombstone too.
	h := watcher.MustOK(map[string]any{"type": "history", "room": "lobby", "limit": 10})
	for _, m := range h["messages"].([]any) {
		if mm := m.(map[string]any); int64(mm["seq"].(float64)) == seq && (mm["deleted"] != true || mm["text"] != "") {
			t.Errorf("history has %v for the deleted message; want a tombstone", mm)
		}
	}

	// Slow mode from the room header: the guest sees it, and her second
	// message within the window gets a notice with a countdown; the message
	// is kept to send again.
	boss.run(chromedp.SetValue(chromedp.ID("slow-select"), "10"), runJS(`document.getElementById('slow-select').dispatchEvent(new Event('change'))`))
	wren.waitJS("the slow-mode badge", `!document.getElementById('slow-badge').hidden && document.getElementById('slow-badge').textContent.includes('10 s')`)
	watcher.Expect(func(f wstest.Frame) bool { return f.Type() == "room.settings" && f.Num("slow_mode_ms") == 10000 })
	wren.typeAndSend("first under slow mode")
	wren.waitMessage("first under slow mode")
	wren.typeAndSend("second too soon")
	wren.waitJS("the slow-mode notice", `!document.getElementById('notice').hidden && /Slow mode — .*\d+ s/.test(document.getElementById('notice').textContent)`)
	first := noticeSeconds(t, wren)
	time.Sleep(2100 * time.Millisecond)
	if later := noticeSeconds(t, wren); later >= first || later <= 0 {
		t.Errorf("the notice counts %d s, then %d s two seconds later; want a countdown", first, later)
	}
	var kept string
	wren.eval(`document.querySelector('#messages li.msg.failed')?.innerText || ''`, &kept)
	if !strings.Contains(kept, "second too soon") || !strings.Contains(kept, "Retry") {
		t.Errorf("the refused message shows %q; want its text and a Retry button", kept)
	}
	// The admin is exempt.
	boss.typeAndSend("admins are not slowed 1")
	boss.typeAndSend("admins are not slowed 2")
	boss.waitMessage("admins are not slowed 2")

	// The member menu: mute here for an hour, with a reason.
	boss.waitJS("the troll's menu button", `document.querySelector('#members .member-menu[data-nick="troll"]')`)
	boss.run(runJS(`document.querySelector('#members .member-menu[data-nick="troll"]').click()`))
	boss.waitJS("the moderation menu", `document.querySelector('#members .mod-menu')`)
	boss.run(
		chromedp.SetValue(chromedp.CSS(`#members .mod-menu .mod-reason`), "spamming"),
		chromedp.SetValue(chromedp.CSS(`#members .mod-menu .mod-duration`), "1h"),
		runJS(`document.querySelector('#members .mod-menu button[data-action="mute"]').click()`),
	)
	boss.waitJS("the mute confirmed", `document.querySelector('#members .mod-menu .mod-status').textContent.includes('muted')`)
	muted := troll.Expect(func(f wstest.Frame) bool { return f.Type() == "muted" })
	if muted.Str("room") != "lobby" || muted.Num("until") == 0 {
		t.Errorf("muted event %v; want lobby with an end", muted)
	}
	if f := troll.Request(map[string]any{"type": "send", "room": "lobby", "text": "can I still talk"}); f.Str("code") != "muted" {
		t.Errorf("a muted send got %v; want muted", f)
	}
	if os.Getenv("PARLEY_SCREENSHOTS") == "1" {
		boss.screenshot("../../docs/screenshots", "moderation-menu.png")
	} else {
		boss.screenshot(t.TempDir(), "moderation-menu.png")
	}

	// A kick closes the page's connection (4001): it says so, and comes
	// back by itself.
	boss.run(runJS(`document.querySelector('#members .member-menu[data-nick="wren"]').click()`))
	boss.waitJS("wren's menu", `document.querySelector('#members li:has(.member-menu[data-nick="wren"]) .mod-menu')`)
	boss.run(runJS(`document.querySelector('#members .mod-menu button[data-action="kick"]').click()`))
	wren.waitJS("the kick notice", `!document.getElementById('notice').hidden && document.getElementById('notice').textContent.includes('kicked')`)
	// While the page is away, a message it shows is deleted: back, it
	// shows the tombstone (resume alone brings only newer messages).
	awaySeq := seqOf(t, s.URL(), "admins are not slowed 1")
	if code, body := apiRequest(t, http.MethodDelete, s.URL()+"/api/rooms/lobby/messages/"+strconv.FormatInt(awaySeq, 10), "s3cret", nil); code != http.StatusOK {
		t.Fatalf("delete while the page is away: %d %v", code, body)
	}
	wren.waitJS("back after the kick", `document.getElementById('status').dataset.state === 'open' && document.getElementById('notice').hidden`)
	wren.waitJS("the tombstone of a message deleted while away", fmt.Sprintf(`(document.querySelector('#messages li.msg[data-seq="%d"]')?.innerText || '').includes('message deleted')`, awaySeq))
	boss.run(runJS(`document.querySelector('#members .member-menu[data-nick="troll"]').click()`))
	boss.waitJS("the troll's menu again", `document.querySelector('#members li:has(.member-menu[data-nick="troll"]) .mod-menu')`)

	// Ban by IP address, until lifted: the troll is closed with 4002 and the
	// address may not say hello again; the pages on other addresses stay.
	boss.run(
		chromedp.SetValue(chromedp.CSS(`#members .mod-menu .mod-duration`), ""),
		runJS(`document.querySelector('#members .mod-menu button[data-action="ban-ip"]').click()`),
	)
	boss.waitJS("the ban confirmed", `document.querySelector('#members .mod-menu .mod-status').textContent.includes('banned')`)
	if !troll.Closed(wstest.Timeout) || troll.CloseCode() != 4002 {
		t.Errorf("after the IP ban the troll's connection: closed %v, code %d; want closed with 4002", troll.Closed(0), troll.CloseCode())
	}
	again := dialFrom(t, s, trollIP)
	if f := again.Request(map[string]any{"type": "hello", "nickname": "troll2"}); f.Str("code") != "banned" {
		t.Errorf("a guest hello from the banned address got %v; want banned", f)
	}
	for _, u := range []*user{boss, wren} {
		u.waitJS("still connected", `document.getElementById('status').dataset.state === 'open'`)
	}

	// The admin page: the ban is listed, the log has what happened, and
	// announcements are published now and later.
	boss.run(chromedp.Navigate(s.URL() + "/admin.html"))
	boss.waitJS("the admin page", `!document.getElementById('sec-announcements').hidden && !document.getElementById('sec-keys').hidden`)
	boss.waitJS("the IP ban in the list", `document.getElementById('ban-list').innerText.includes('troll')`)
	boss.waitJS("the action log", `['delete', 'slow_mode', 'mute', 'ban'].every(k => [...document.querySelectorAll('#log-list tr')].some(tr => tr.children[2].textContent === k))`)
	boss.run(
		chromedp.SetValue(chromedp.ID("ann-text"), "Server upgrade at **noon**"),
		chromedp.Click(chromedp.ID("ann-submit")),
	)
	ann := watcher.Expect(func(f wstest.Frame) bool { return f.Type() == "announcement" })
	a, _ := ann["announcement"].(map[string]any)
	if a == nil || !strings.Contains(fmt.Sprint(a["text"]), "Server upgrade") {
		t.Fatalf("announcement event %v; want the one published on the admin page", ann)
	}
	wren.waitJS("the banner", `document.querySelector('#banners .banner strong')?.textContent === 'noon'`)
	// A scheduled one arrives when it starts, as a normal announcement.
	boss.waitJS("the form ready again", `!document.getElementById('ann-submit').disabled && document.getElementById('ann-text').value === ''`)
	boss.run(runJS(`(() => {
		const d = new Date(Date.now() + 5000), p = (n) => String(n).padStart(2, '0');
		document.getElementById('ann-start').value = d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
		document.getElementById('ann-text').value = 'Later: maintenance';
	})()`), chromedp.Click(chromedp.ID("ann-submit")))
	boss.waitJS("the scheduled announcement listed", `[...document.querySelectorAll('#ann-list tr')].some(tr => tr.innerText.includes('Later: maintenance') && tr.classList.contains('scheduled'))`)
	watcher.ExpectNone(time.Second, func(f wstest.Frame) bool { return f.Type() == "announcement" })
	if f, ok := watcher.Wait(10*time.Second, func(f wstest.Frame) bool { return f.Type() == "announcement" }); !ok {
		t.Error("the scheduled announcement never arrived")
	} else if a, _ := f["announcement"].(map[string]any); !strings.Contains(fmt.Sprint(a["text"]), "Later") {
		t.Errorf("scheduled announcement event %v", f)
	}
	// Deleting the first one takes it off every page.
	id := fmt.Sprint(a["id"])
	boss.run(runJS(`[...document.querySelectorAll('#ann-list tr')].find(tr => tr.innerText.includes('Server upgrade')).querySelector('button').click()`))
	gone := watcher.Expect(func(f wstest.Frame) bool { return f.Type() == "announcement.deleted" })
	if g, _ := gone["announcement"].(map[string]any); g == nil || fmt.Sprint(g["id"]) != id {
		t.Errorf("announcement.deleted %v; want id %s", gone, id)
	}
	wren.waitJS("the banner gone", `!document.querySelector('#banners .banner strong')`)

	// An API key: the secret is shown once; revoked, it is marked so.
	boss.run(chromedp.SetValue(chromedp.ID("key-name"), "ci-bot"), chromedp.Click(chromedp.ID("key-submit")))
	boss.waitJS("the secret", `!document.getElementById('key-secret').hidden && document.getElementById('key-secret-value').textContent.startsWith('pk_')`)
	var secret string
	boss.eval(`document.getElementById('key-secret-value').textContent`, &secret)
	if code, me := apiRequest(t, http.MethodGet, s.URL()+"/api/auth/me", secret, nil); code != http.StatusOK || me["nickname"] != "key:ci-bot" {
		t.Errorf("GET /api/auth/me with the new key: %d %v", code, me)
	}
	boss.waitJS("the key listed", `[...document.querySelectorAll('#key-list tr')].some(tr => tr.innerText.includes('ci-bot') && tr.querySelector('button'))`)
	// Roles: a registered user becomes a moderator.
	if code, body := apiRequest(t, http.MethodPost, s.URL()+"/api/auth/register", "", map[string]any{"nickname": "mia", "password": modPassword}); code != http.StatusCreated {
		t.Fatalf("register mia: %d %v", code, body)
	}
	boss.run(chromedp.SetValue(chromedp.ID("role-nick"), "mia"), chromedp.SetValue(chromedp.ID("role-role"), "moderator"), chromedp.Click(chromedp.ID("role-submit")))
	boss.waitJS("the role granted", `document.getElementById('role-status').textContent.includes('mia is moderator')`)
	if os.Getenv("PARLEY_SCREENSHOTS") == "1" {
		boss.run(runJS(`document.getElementById('log-refresh').click()`), chromedp.Sleep(300*time.Millisecond),
			runJS(`document.getElementById('toast').hidden = true; scrollTo(0, 0)`))
		boss.screenshot("../../docs/screenshots", "admin.png")
	}
	boss.run(runJS(`[...document.querySelectorAll('#key-list tr')].find(tr => tr.innerText.includes('ci-bot')).querySelector('button').click()`))
	boss.waitJS("the key revoked", `[...document.querySelectorAll('#key-list tr')].some(tr => tr.innerText.includes('ci-bot') && tr.classList.contains('revoked'))`)

	// Back in the chat, a ban of the page's nickname closes it (4002): it
	// says so and does not try to reconnect.
	boss.run(chromedp.Navigate(s.URL() + "/"))
	boss.waitJS("the chat again, signed in", `document.getElementById('status').dataset.state === 'open' && window.parleyApp.state.role === 'admin'`)
	boss.waitJS("wren's menu button", `document.querySelector('#members .member-menu[data-nick="wren"]')`)
	boss.run(runJS(`document.querySelector('#members .member-menu[data-nick="wren"]').click()`))
	boss.run(
		chromedp.SetValue(chromedp.CSS(`#members .mod-menu .mod-duration`), "10m"),
		runJS(`document.querySelector('#members .mod-menu button[data-action="ban-nickname"]').click()`),
	)
	wren.waitJS("the ban notice", `!document.getElementById('notice').hidden && document.getElementById('notice').textContent.includes('banned') && document.getElementById('status').dataset.state === 'closed'`)
	dials := func() int {
		wren.mu.Lock()
		defer wren.mu.Unlock()
		n := 0
		for _, r := range wren.requests {
			if strings.HasSuffix(r, "/ws") {
				n++
			}
		}
		return n
	}
	before := dials()
	time.Sleep(2500 * time.Millisecond)
	var state string
	wren.eval(`document.getElementById('status').dataset.state`, &state)
	if after := dials(); after != before || state != "closed" {
		t.Errorf("after the ban the page dialled %d more times and is %q; want no reconnect, closed", after-before, state)
	}
	boss.clean()
	wren.clean()
}

// TestModerationBrowserAccounts: a guest registers her nickname from the
// page and stays signed in across a reload (the cookie); a registered user
// made moderator sees the moderation controls at once (the role event);
// the admin page sends people without a login back to the chat page, and
// shows a moderator the bans and the log only.
func TestModerationBrowserAccounts(t *testing.T) {
	chromiumPath(t)
	s := startServer(t, "--admin-token", "s3cret")
	b := newBrowser(t)

	kay := b.open(s.URL())
	kay.login("kay")
	kay.run(chromedp.Click(chromedp.ID("register-btn")))
	kay.waitJS("the register dialog", `document.getElementById('account-dialog').open`)
	kay.run(chromedp.SetValue(chromedp.ID("new-password"), modPassword), chromedp.Click(chromedp.ID("account-submit")))
	kay.waitJS("signed in as the account", `window.parleyApp.state.registered && !document.getElementById('password-btn').hidden && document.getElementById('register-btn').hidden && document.getElementById('status').dataset.state === 'open'`)
	var stored struct{ Account, Token string }
	kay.eval(`({account: localStorage.getItem('parley.account'), token: localStorage.getItem('parley.token') || ''})`, &stored)
	if stored.Account != "kay" || stored.Token != "" {
		t.Errorf("after registering, localStorage has account %q token %q; want the account and no guest token", stored.Account, stored.Token)
	}
	kay.typeAndSend("registered now")
	kay.run(chromedp.Reload())
	kay.waitJS("back in as kay after a reload", `document.getElementById('status').dataset.state === 'open' && window.parleyApp.state.me === 'kay' && window.parleyApp.state.registered`)
	kay.waitMessage("registered now")
	// Change password: the old one stops working.
	kay.run(chromedp.Click(chromedp.ID("password-btn")))
	kay.waitJS("the password dialog", `document.getElementById('account-dialog').open && !document.getElementById('current-row').hidden`)
	kay.run(chromedp.SetValue(chromedp.ID("current-password"), modPassword), chromedp.SetValue(chromedp.ID("new-password"), "a brand new secret"), chromedp.Click(chromedp.ID("account-submit")))
	kay.waitJS("the dialog closed", `!document.getElementById('account-dialog').open`)
	if code, _ := apiRequest(t, http.MethodPost, s.URL()+"/api/auth/login", "", map[string]any{"nickname": "kay", "password": modPassword}); code != http.StatusUnauthorized {
		t.Errorf("login with the old password: %d; want 401", code)
	}
	// A guest asking for kay is told to log in; logging in works.
	other := b.open(s.URL())
	other.run(chromedp.WaitVisible(chromedp.ID("nick")), chromedp.SetValue(chromedp.ID("nick"), "kay"), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	other.waitJS("the registered-nickname hint", `document.getElementById('login-error').textContent.includes('registered') && document.getElementById('mode-login').getAttribute('aria-pressed') === 'true'`)
	other.run(chromedp.SetValue(chromedp.ID("password"), "a brand new secret"), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	other.waitJS("kay on a second device", `document.getElementById('status').dataset.state === 'open' && window.parleyApp.state.me === 'kay'`)

	// The admin page without a login.
	anon := b.open(s.URL())
	anon.run(chromedp.Navigate(s.URL() + "/admin.html"))
	anon.waitJS("the sign-in link", `!document.getElementById('gate').hidden && document.getElementById('gate-link').getAttribute('href') === './'`)

	// kay becomes a moderator while on the page.
	kay.waitJS("no moderation controls yet", `document.getElementById('admin-link').hidden && !document.querySelector('#members .member-menu')`)
	if code, body := apiRequest(t, http.MethodPut, s.URL()+"/api/users/kay/role", "s3cret", map[string]any{"role": "moderator"}); code != http.StatusOK {
		t.Fatalf("PUT role moderator: %d %v", code, body)
	}
	kay.waitJS("the moderation controls", `window.parleyApp.state.role === 'moderator' && !document.getElementById('admin-link').hidden && !document.getElementById('slow-label').hidden`)
	kay.run(chromedp.Navigate(s.URL() + "/admin.html"))
	kay.waitJS("bans and log only", `!document.getElementById('sec-bans').hidden && !document.getElementById('sec-log').hidden && document.getElementById('sec-announcements').hidden && document.getElementById('sec-keys').hidden && document.getElementById('sec-roles').hidden`)
	kay.waitJS("the log of the role change", `document.getElementById('log-list').innerText.includes('role')`)
	// Logging out ends the session: the admin page then sends back to the chat.
	kay.run(chromedp.Navigate(s.URL() + "/"))
	kay.waitJS("the chat", `document.getElementById('status').dataset.state === 'open'`)
	kay.run(chromedp.Click(chromedp.ID("logout")))
	kay.waitJS("the sign-in form", `!document.getElementById('login').hidden`)
	kay.run(chromedp.Navigate(s.URL() + "/admin.html"))
	kay.waitJS("the sign-in link after logout", `!document.getElementById('gate').hidden`)
	for _, u := range []*user{kay, other, anon} {
		u.clean()
	}
}

// loginAccount logs in to an account from the page's sign-in form.
func (u *user) loginAccount(nick, password string) {
	u.t.Helper()
	u.run(
		chromedp.WaitVisible(chromedp.ID("nick")),
		chromedp.Click(chromedp.ID("mode-login")),
		chromedp.SetValue(chromedp.ID("nick"), nick),
		chromedp.SetValue(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("app")),
	)
	u.waitJS("the lobby to open", `document.querySelector('.conv.active')?.dataset.key === 'lobby' && document.getElementById('status').dataset.state === 'open'`)
}

var noticeNumber = regexp.MustCompile(`(\d+) s`)

// noticeSeconds reads the countdown of the notice by the composer.
func noticeSeconds(t *testing.T, u *user) int {
	t.Helper()
	var text string
	u.eval(`document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent`, &text)
	m := noticeNumber.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("notice %q has no countdown", text)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// makeAdmin creates the registered user nick with the admin role: with
// `parley user add --admin` on the server's database, or, where that
// command is missing, by registering through the API and granting the role
// with the admin token.
func makeAdmin(t *testing.T, s *server, nick, password string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"PARLEY_PASSWORD": password}
	code := run(context.Background(), []string{"user", "add", "--admin", "--db", s.db, nick}, &out, &errOut, func(k string) string { return env[k] })
	if code == 0 {
		return
	}
	if !strings.Contains(errOut.String(), "unknown command") {
		t.Logf("parley user add: exit %d: %s%s; registering through the API instead", code, out.String(), errOut.String())
	}
	if code, body := apiRequest(t, http.MethodPost, s.URL()+"/api/auth/register", "", map[string]any{"nickname": nick, "password": password}); code != http.StatusCreated {
		t.Fatalf("POST /api/auth/register: %d %v", code, body)
	}
	if code, body := apiRequest(t, http.MethodPut, s.URL()+"/api/users/"+url.PathEscape(nick)+"/role", "s3cret", map[string]any{"role": "admin"}); code != http.StatusOK {
		t.Fatalf("PUT /api/users/%s/role: %d %v", nick, code, body)
	}
}

// apiRequest makes an HTTP request with a JSON body and returns status and
// body (post in main_test.go does POST only).
func apiRequest(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	status, out, _ := apiCall(t, method, url, token, "", body)
	return status, out
}

// trustedProxiesFlag returns the serve flag that names trusted proxies,
// or "" if the server has none.
func trustedProxiesFlag() string {
	for _, name := range []string{"--trusted-proxies", "--trusted-proxy"} {
		if NewMain(io.Discard, func(string) string { return "" }).ParseFlags([]string{name, "127.0.0.1"}) == nil {
			return name
		}
	}
	return ""
}

// dialFrom connects a native client that a trusted proxy on loopback
// forwards for ip.
func dialFrom(t *testing.T, s *server, ip string) *wstest.Client {
	t.Helper()
	return wstest.Dial(t, wstest.WSURL(s.URL()), http.Header{"X-Forwarded-For": {ip}})
}

// seqOf finds the seq of the newest lobby message with text, over the API.
func seqOf(t *testing.T, base, text string) int64 {
	t.Helper()
	code, body := apiRequest(t, http.MethodGet, base+"/api/rooms/lobby/messages?limit=200", "s3cret", nil)
	if code != http.StatusOK {
		t.Fatalf("history: %d %v", code, body)
	}
	msgs, _ := body["messages"].([]any)
	for i := len(msgs) - 1; i >= 0; i-- {
		if m := msgs[i].(map[string]any); m["text"] == text {
			return int64(m["seq"].(float64))
		}
	}
	t.Fatalf("no lobby message %q in %v", text, msgs)
	return 0
}
