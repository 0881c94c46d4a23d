package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/parley-chat/parley/internal/wstest"
)

// The web page, specified by what people do with it in a real browser.

func TestWebTwoPeopleChatWithMarkdownMentionsAndGrouping(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t)
	alice, bob := b.open(s.URL()), b.open(s.URL())
	alice.login("alice")
	bob.login("bob")
	alice.waitJS("bob in the member list", `[...document.querySelectorAll('#members .member')].some(e => e.textContent === 'bob')`)

	alice.typeAndSend("hello **bob**, see [docs](https://example.com/docs) and `code`")
	got := bob.waitMessage("hello bob")
	if got.From != "alice" || got.Mine || !strings.Contains(got.HTML, "<strong>bob</strong>") || !strings.Contains(got.HTML, "<code>code</code>") {
		t.Errorf("bob sees %+v; want alice's message rendered, not his own", got)
	}
	var link struct{ Target, Rel string }
	bob.eval(`(() => { const a = document.querySelector('#messages a[href="https://example.com/docs"]'); return {target: a.target, rel: a.rel}; })()`, &link)
	if link.Target != "_blank" || !strings.Contains(link.Rel, "noopener") || !strings.Contains(link.Rel, "noreferrer") {
		t.Errorf("link opens with target %q rel %q; want _blank and noopener noreferrer", link.Target, link.Rel)
	}
	if mine := alice.waitMessage("hello bob"); !mine.Mine {
		t.Errorf("alice's own message is not marked as hers: %+v", mine)
	}

	// Lists and quotes; a second message right after groups with the first.
	alice.typeAndSend("> quoted")
	q := bob.waitMessage("quoted")
	if !strings.Contains(q.HTML, "<blockquote>") || !q.Cont {
		t.Errorf("quote: %+v; want a blockquote grouped under alice's previous message", q)
	}

	// A mention of bob is highlighted for bob, not for alice.
	alice.typeAndSend("@bob look")
	if m := bob.waitMessage("look"); !m.Mention {
		t.Errorf("bob's view of a mention: %+v; want it highlighted", m)
	}
	if m := alice.waitMessage("look"); m.Mention {
		t.Errorf("alice's view of her own mention of bob is highlighted as a mention of her")
	}

	// bob answers; alice sees it, and the status says connected.
	bob.typeAndSend("hi alice")
	alice.waitMessage("hi alice")
	var status string
	alice.eval(`document.getElementById('status').textContent`, &status)
	if status != "Connected" {
		t.Errorf("status = %q; want Connected", status)
	}
	// Typing shows on the other side (alice keeps typing for a while: the
	// indicator is throttled to one event per two seconds).
	const seesTyping = `document.getElementById('typing').textContent.includes('alice is typing')`
	for i := 0; i < 12; i++ {
		alice.run(chromedp.SendKeys(chromedp.ID("text"), "w"), chromedp.Sleep(500*time.Millisecond))
		var seen bool
		if bob.eval(seesTyping, &seen); seen {
			break
		}
	}
	bob.waitJS("alice is typing", seesTyping)
	alice.run(runJS(`document.getElementById("text").value = ""`))
	alice.clean()
	bob.clean()
}

func TestWebComposerKeys(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t)
	alice := b.open(s.URL())
	alice.login("alice")
	var focused bool
	alice.eval(`document.activeElement === document.getElementById('text')`, &focused)
	if !focused {
		t.Error("the composer is not focused after login")
	}

	// Shift+Enter inserts a new line; Enter sends the whole text.
	alice.run(
		chromedp.SendKeys(chromedp.ID("text"), "line one"),
		pressEnter(chromedp.ModifierShift),
		chromedp.SendKeys(chromedp.ID("text"), "line two"),
	)
	var value string
	alice.eval(`document.getElementById('text').value`, &value)
	if value != "line one\nline two" {
		t.Fatalf("after Shift+Enter the composer holds %q; want two lines", value)
	}
	alice.run(pressEnter())
	m := alice.waitMessage("line one")
	if m.Text != "line one\nline two" && m.Text != "line one line two" {
		t.Errorf("sent %q; want both lines in one message", m.Text)
	}
	alice.eval(`document.getElementById('text').value`, &value)
	alice.eval(`document.activeElement === document.getElementById('text')`, &focused)
	if value != "" || !focused {
		t.Errorf("after sending: composer holds %q, focused %v; want empty and focused", value, focused)
	}

	// Ctrl+Enter sends too.
	alice.run(chromedp.SendKeys(chromedp.ID("text"), "with control"), pressEnter(chromedp.ModifierCtrl))
	alice.waitMessage("with control")

	// Empty and whitespace-only messages are not sent.
	before := len(alice.messages())
	alice.run(chromedp.SendKeys(chromedp.ID("text"), "   "), pressEnter(), pressEnter())
	alice.typeAndSend("marker after blanks")
	alice.waitMessage("marker after blanks")
	if after := len(alice.messages()); after != before+1 {
		t.Errorf("%d messages after blank sends and one real one; want %d", after, before+1)
	}

	// @ autocompletes nicknames of people online.
	bob := b.open(s.URL())
	bob.login("bobby")
	alice.waitJS("bobby online", `[...document.querySelectorAll('#members .member')].some(e => e.textContent === 'bobby')`)
	alice.run(runJS(`document.getElementById("text").value = ""`), chromedp.SendKeys(chromedp.ID("text"), "hi @bo"))
	alice.waitJS("the suggestion list", `!document.getElementById('suggest').hidden && document.getElementById('suggest').textContent.includes('@bobby')`)
	alice.run(pressKey("Tab", 9, ""))
	alice.eval(`document.getElementById('text').value`, &value)
	if value != "hi @bobby " {
		t.Errorf("after picking the suggestion the composer holds %q; want %q", value, "hi @bobby ")
	}
	alice.clean()
}

func TestWebDirectMessagesArePrivateAndCountedUnread(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t)
	alice, bob, carol := b.open(s.URL()), b.open(s.URL()), b.open(s.URL())
	alice.login("alice")
	bob.login("bob")
	carol.login("carol")

	// alice clicks bob in the member list and writes privately.
	alice.waitJS("bob in the member list", `[...document.querySelectorAll('#members button.member')].some(e => e.textContent === 'bob')`)
	alice.run(runJS(`[...document.querySelectorAll('#members button.member')].find(e => e.textContent === 'bob').click()`))
	alice.waitJS("the conversation with bob", `document.getElementById('conv-title').textContent.includes('bob')`)
	alice.typeAndSend("secret for bob")
	alice.waitMessage("secret for bob")

	// bob, reading the lobby, sees the conversation appear with one unread.
	bob.waitJS("a DM from alice with an unread badge", `[...document.querySelectorAll('#dm-list .conv')].some(b => b.textContent.includes('alice') && b.querySelector('.badge')?.textContent === '1')`)
	bob.run(runJS(`[...document.querySelectorAll('#dm-list .conv')].find(b => b.textContent.includes('alice')).click()`))
	if m := bob.waitMessage("secret for bob"); m.From != "alice" {
		t.Errorf("bob sees the DM from %q", m.From)
	}
	bob.waitJS("the badge to clear", `!document.querySelector('#dm-list .badge')`)
	bob.typeAndSend("secret reply")
	alice.waitMessage("secret reply")

	// carol got nothing of it: after a later lobby message reaches her,
	// neither text is anywhere in her page or her state.
	alice.run(runJS(`document.querySelector('#room-list .conv[data-key="lobby"]').click()`))
	alice.typeAndSend("public after the whisper")
	carol.waitMessage("public after the whisper")
	var carolState string
	carol.eval(`JSON.stringify([...window.parleyApp.state.convs.values()].map(c => [c.key, c.msgs.map(m => m.text)]))`, &carolState)
	if txt := carol.text(); strings.Contains(txt, "secret") || strings.Contains(carolState, "secret") || strings.Contains(carolState, "dm:") || strings.Contains(carolState, `\n`) {
		t.Errorf("carol saw the private conversation: page %q, state %s", txt, carolState)
	}

	// Room unread counts: bob creates a room, alice joins it, bob goes back
	// to the lobby and alice writes in the room.
	bob.run(chromedp.Click(chromedp.ID("new-room")), chromedp.SetValue(chromedp.ID("room-input"), "garden"), chromedp.Click(chromedp.CSS("#room-form button[type=submit]")))
	bob.waitJS("bob in garden", `document.querySelector('.conv.active')?.dataset.key === 'garden'`)
	alice.run(chromedp.Click(chromedp.ID("new-room")), chromedp.SetValue(chromedp.ID("room-input"), "garden"), chromedp.Click(chromedp.CSS("#room-form button[type=submit]")))
	alice.waitJS("alice in garden", `document.querySelector('.conv.active')?.dataset.key === 'garden'`)
	bob.run(runJS(`document.querySelector('#room-list .conv[data-key="lobby"]').click()`))
	alice.typeAndSend("in the garden one")
	alice.typeAndSend("in the garden two")
	bob.waitJS("garden's unread badge", `document.querySelector('#room-list .conv[data-key="garden"] .badge')?.textContent === '2'`)
	// Opening it shows where unread messages begin.
	bob.run(runJS(`document.querySelector('#room-list .conv[data-key="garden"]').click()`))
	bob.waitMessage("in the garden two")
	var markerBefore string
	bob.eval(`document.querySelector('#messages .unread-marker')?.nextElementSibling?.querySelector('.body')?.innerText || ''`, &markerBefore)
	if markerBefore != "in the garden one" {
		t.Errorf("the unread marker stands before %q; want the first unread message", markerBefore)
	}
	// An invalid room name gets a clear error, and nothing is joined.
	bob.run(chromedp.Click(chromedp.ID("new-room")), chromedp.SetValue(chromedp.ID("room-input"), "no spaces allowed"), chromedp.Click(chromedp.CSS("#room-form button[type=submit]")))
	bob.waitJS("a room name error", `document.getElementById('room-error').textContent.length > 0`)
	for _, u := range []*user{alice, bob, carol} {
		u.clean()
	}
}

func TestWebAnnouncementsBannerAndDismiss(t *testing.T) {
	s := startServer(t, "--admin-token", "s3cret")
	b := newBrowser(t)
	alice, bob := b.open(s.URL()), b.open(s.URL())
	alice.login("alice")
	bob.login("bob")
	if code, _ := post(t, s.URL()+"/api/announcements", "s3cret", map[string]any{"text": "Maintenance at **noon**"}); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("POST announcement: %d", code)
	}
	for _, u := range []*user{alice, bob} {
		u.waitJS("the banner", `document.querySelector('#banners .banner strong')?.textContent === 'noon'`)
	}
	alice.run(chromedp.Click(chromedp.CSS(`#banners .banner button`)))
	alice.waitJS("the banner to go", `!document.querySelector('#banners .banner')`)
	// Dismissed stays dismissed after a reload; bob still has his.
	alice.run(chromedp.Reload())
	alice.waitJS("the page after reload", `document.getElementById('status').dataset.state === 'open'`)
	time.Sleep(300 * time.Millisecond) // the announcement push follows the welcome
	var n int
	alice.eval(`document.querySelectorAll('#banners .banner').length`, &n)
	if n != 0 {
		t.Errorf("%d banners after dismissing and reloading; want 0", n)
	}
	bob.waitJS("bob's banner", `document.querySelectorAll('#banners .banner').length === 1`)
	alice.clean()
	bob.clean()
}

func TestWebLanguageThemeAndReloadKeepsSession(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t)
	// A Chinese browser gets the Chinese page.
	li := b.open(s.URL(), withLanguage("zh-CN,zh;q=0.9"))
	li.waitJS("the Chinese login form", `document.querySelector('#login h2').textContent === '加入聊天'`)
	li.login("小李")
	li.waitJS("Chinese labels", `document.getElementById('send').textContent === '发送' && document.getElementById('status').textContent === '已连接'`)
	// Switching to English changes the page at once and is remembered.
	li.run(chromedp.SetValue(chromedp.ID("lang"), "en"), runJS(`document.getElementById('lang').dispatchEvent(new Event('change'))`))
	li.waitJS("English labels", `document.getElementById('send').textContent === 'Send' && document.documentElement.lang === 'en'`)

	// The theme switch changes the colours and is remembered.
	var before, after string
	li.eval(`getComputedStyle(document.body).backgroundColor`, &before)
	li.run(chromedp.Click(chromedp.ID("theme")))
	li.eval(`getComputedStyle(document.body).backgroundColor`, &after)
	if before == after {
		t.Errorf("background %s before and after the theme switch", before)
	}
	li.typeAndSend("你好，世界")
	li.waitMessage("你好，世界")

	// A reload keeps the nickname (the token is in localStorage), the
	// language, the theme and the history.
	li.run(chromedp.Reload())
	li.waitJS("back in, in English, same theme", `document.getElementById('status').dataset.state === 'open' && document.getElementById('send').textContent === 'Send'`)
	var again, nick string
	li.eval(`getComputedStyle(document.body).backgroundColor`, &again)
	li.eval(`window.parleyApp.state.me`, &nick)
	if again != after || nick != "小李" {
		t.Errorf("after reload: background %s (want %s), nickname %q", again, after, nick)
	}
	li.waitMessage("你好，世界")
	li.clean()
}

func TestWebXSSPayloadsExecuteNothing(t *testing.T) {
	s := startServer(t, "--admin-token", "s3cret", "--rate", "1000", "--burst", "1000")
	b := newBrowser(t)
	alice := b.open(s.URL())
	alice.login("alice")
	payloads := []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`<svg onload=alert(1)>`,
		`<svg><script>alert(1)</script></svg>`,
		`"><img src=x onerror=alert(1)>`,
		`<iframe src="javascript:alert(1)"></iframe>`,
		`<a href="javascript:alert(1)">raw link</a>`,
		`[click](javascript:alert(1))`,
		`[click](JaVaScRiPt:alert(1))`,
		`[click](&#106;avascript:alert(1))`,
		`[click](java	script:alert(1))`,
		`[click](vbscript:msgbox(1))`,
		`[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
		`![img](javascript:alert(1))`,
		`<details open ontoggle=alert(1)>`,
		`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
		`<style>body{display:none}</style>`,
		`<form action="javascript:alert(1)"><button>go</button></form>`,
		`<body onload=alert(1)>`,
		`<input autofocus onfocus=alert(1)>`,
		"`<script>alert(1)</script>`",
		"```\n<img src=x onerror=alert(1)>\n```",
		`[x](https://example.com "onmouseover=alert(1)")`,
		`@<img src=x onerror=alert(1)>`,
		`<object data="javascript:alert(1)">`,
		`<embed src="javascript:alert(1)">`,
		`<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
		`<base href="javascript:alert(1)//">`,
		`<link rel=stylesheet href=//127.0.0.2/x.css>`,
	}
	mallory := s.client("mallory")
	mallory.Join("lobby")
	for i, p := range payloads {
		mallory.MustOK(map[string]any{"type": "send", "room": "lobby", "text": p, "client_id": fmt.Sprintf("x%d", i)})
	}
	mallory.MustOK(map[string]any{"type": "dm", "to": "alice", "text": payloads[1]})
	if code, _ := post(t, s.URL()+"/api/announcements", "s3cret", map[string]any{"text": `<img src=x onerror=alert(1)> [a](javascript:alert(1))`}); code >= 300 {
		t.Fatalf("POST announcement: %d", code)
	}
	mallory.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "the end"})
	alice.waitMessage("the end")
	alice.waitJS("the announcement", `document.querySelectorAll('#banners .banner').length === 1`)
	// Hover and click every link the payloads produced.
	alice.run(runJS(`document.querySelectorAll('#messages a, #banners a').forEach(a => { a.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); a.addEventListener('click', e => e.preventDefault()); a.click(); })`))
	// Open the DM too, so its rendering is exercised.
	alice.run(runJS(`window.parleyApp.openDM('mallory')`))
	alice.waitMessage("onerror=alert(1)")
	time.Sleep(500 * time.Millisecond)

	var dangerous []string
	alice.eval(`[...document.querySelectorAll('#messages *, #banners *')].filter(e =>
		['SCRIPT','IFRAME','OBJECT','EMBED','STYLE','LINK','META','BASE','FORM','INPUT','SVG','MATH','DETAILS'].includes(e.tagName.toUpperCase()) ||
		[...e.attributes].some(a => a.name.startsWith('on') || /^\s*(javascript|vbscript|data):/i.test(a.value))).map(e => e.outerHTML)`, &dangerous)
	if len(dangerous) > 0 {
		t.Errorf("dangerous markup in the page: %q", dangerous)
	}
	if bad := alice.foreignRequests(); len(bad) > 0 {
		t.Errorf("the page made requests it should not have: %q", bad)
	}
	var shown int
	alice.eval(`document.querySelectorAll('#messages li.msg').length`, &shown)
	if shown != 1 {
		t.Errorf("%d messages shown in the DM; want the one payload, shown as text", shown)
	}
	alice.clean()
}

func TestWebResumesAfterServerRestartWithoutGapsOrDuplicates(t *testing.T) {
	s := startServer(t)
	addr := s.Addr()
	base := s.URL()
	b := newBrowser(t)
	alice := b.open(base)
	alice.login("alice")
	bob := s.client("bob")
	bob.Join("lobby")
	for i := 1; i <= 3; i++ {
		bob.MustOK(map[string]any{"type": "send", "room": "lobby", "text": fmt.Sprintf("before %d", i)})
	}
	alice.waitMessage("before 3")

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	alice.waitJS("the reconnecting status", `['reconnecting', 'offline'].includes(document.getElementById('status').dataset.state)`)
	// Written while the server is down: shown as pending.
	alice.typeAndSend("written while down")
	alice.waitJS("a pending message", `document.querySelector('#messages li.msg.pending')?.innerText.includes('written while down')`)

	s2 := startServerDB(t, s.db, "--addr", addr)
	bob2 := s2.client("bob2")
	bob2.Join("lobby")
	for i := 1; i <= 3; i++ {
		bob2.MustOK(map[string]any{"type": "send", "room": "lobby", "text": fmt.Sprintf("during %d", i)})
	}
	alice.waitJS("the connected status", `document.getElementById('status').dataset.state === 'open'`)
	alice.waitMessage("written while down")
	alice.waitMessage("during 3")
	bob2.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "after reconnect"})
	alice.waitMessage("after reconnect")

	check := func(when string) {
		t.Helper()
		msgs := alice.messages()
		var seqs []int
		count := map[string]int{}
		for _, m := range msgs {
			if m.Pending || m.Failed {
				t.Errorf("%s: still pending or failed: %+v", when, m)
			}
			seqs = append(seqs, m.Seq)
			count[m.Text]++
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] != seqs[i-1]+1 {
				t.Errorf("%s: sequence numbers %v have a gap or a duplicate", when, seqs)
				break
			}
		}
		for _, want := range []string{"before 1", "before 3", "during 1", "during 2", "during 3", "written while down", "after reconnect"} {
			if count[want] != 1 {
				t.Errorf("%s: %q shown %d times; want once", when, want, count[want])
			}
		}
	}
	check("after the restart")
	// The server stored the offline message exactly once.
	h := bob2.MustOK(map[string]any{"type": "history", "room": "lobby", "limit": 100})
	stored := 0
	for _, m := range h["messages"].([]any) {
		if m.(map[string]any)["text"] == "written while down" {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("the message written while down is stored %d times; want once", stored)
	}
	alice.run(chromedp.Reload())
	alice.waitMessage("after reconnect")
	check("after a reload")
	alice.clean()
}

func TestWebScrollingNewMessagesButtonAndOlderHistory(t *testing.T) {
	s := startServer(t, "--rate", "1000", "--burst", "1000")
	bob := s.client("bob")
	bob.Join("lobby")
	for i := 1; i <= 130; i++ {
		bob.MustOK(map[string]any{"type": "send", "room": "lobby", "text": fmt.Sprintf("old message %d", i)})
	}
	b := newBrowser(t)
	alice := b.open(s.URL())
	alice.login("alice")
	alice.waitMessage("old message 130")
	var atBottom bool
	alice.eval(`(() => { const p = document.getElementById('pane'); return p.scrollHeight - p.scrollTop - p.clientHeight < 50; })()`, &atBottom)
	if !atBottom {
		t.Error("the view does not start at the newest message")
	}

	// Scrolling to the top loads older messages without moving what the
	// reader sees.
	var anchor struct{ Seq, Top float64 }
	alice.eval(`(() => { const p = document.getElementById('pane'); const first = document.querySelector('#messages li.msg'); p.scrollTop = 0;
		return {seq: Number(first.dataset.seq), top: first.querySelector('.body').getBoundingClientRect().top}; })()`, &anchor)
	alice.waitJS("older messages", `document.querySelectorAll('#messages li.msg').length > 50`)
	time.Sleep(100 * time.Millisecond)
	var topAfter float64
	alice.eval(fmt.Sprintf(`document.querySelector('#messages li.msg[data-seq="%d"] .body').getBoundingClientRect().top`, int(anchor.Seq)), &topAfter)
	if d := topAfter - anchor.Top; d > 2 || d < -2 {
		t.Errorf("message %v moved by %.0f px when older ones loaded; want it to stay put", anchor.Seq, d)
	}
	// Up to the very first message: the beginning is marked.
	for i := 0; i < 5; i++ {
		alice.run(runJS(`document.getElementById('pane').scrollTop = 0`))
		time.Sleep(200 * time.Millisecond)
	}
	alice.waitJS("the whole history", `document.querySelectorAll('#messages li.msg').length === 130 && !!document.querySelector('#messages .conv-start')`)
	msgs := alice.messages()
	for i, m := range msgs {
		if m.Seq != i+1 {
			t.Fatalf("message %d has seq %d: history is out of order or has holes", i, m.Seq)
		}
	}

	// Scrolled up, a new message shows the "new messages" button instead
	// of moving the view; the button goes to the newest.
	alice.run(runJS(`document.getElementById('pane').scrollTop = 400`))
	bob.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "fresh one"})
	alice.waitJS("the new-messages button", `!document.getElementById('jump').hidden`)
	var scrollTop float64
	alice.eval(`document.getElementById('pane').scrollTop`, &scrollTop)
	if scrollTop < 390 || scrollTop > 410 {
		t.Errorf("the view moved to %.0f when a message arrived; want it to stay at 400", scrollTop)
	}
	alice.run(chromedp.Click(chromedp.ID("jump")))
	alice.waitJS("the newest message in view, button gone", `document.getElementById('jump').hidden && (() => { const p = document.getElementById('pane'); return p.scrollHeight - p.scrollTop - p.clientHeight < 50; })()`)
	// At the bottom, new messages keep the view at the bottom.
	bob.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "fresher one"})
	alice.waitMessage("fresher one")
	alice.eval(`(() => { const p = document.getElementById('pane'); return p.scrollHeight - p.scrollTop - p.clientHeight < 50; })()`, &atBottom)
	if !atBottom {
		t.Error("a new message at the bottom did not keep the view at the newest")
	}
	alice.clean()
}

func TestWebNotificationsAndTitleWhileHidden(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t)
	alice := b.open(s.URL())
	alice.login("alice")
	bob := s.client("bob")
	bob.Join("lobby")
	// Permission is asked once, after the first message sent (a gesture
	// of the reader), not on load and not again.
	alice.run(runJS(`window.__asked = 0; window.Notification = class { static get permission() { return 'default'; } static requestPermission() { window.__asked++; return Promise.resolve('default'); } };`))
	alice.typeAndSend("first")
	alice.typeAndSend("second")
	alice.waitMessage("second")
	var asked int
	alice.eval(`window.__asked`, &asked)
	if asked != 1 {
		t.Errorf("notification permission asked %d times; want once", asked)
	}
	// Pretend the tab is hidden, and record notifications (permission is
	// granted for this check; the page asks for it after the first send).
	alice.run(runJS(`(() => {
		window.__notes = [];
		window.Notification = class { constructor(title, opts) { window.__notes.push(title + ': ' + opts.body); } static get permission() { return 'granted'; } };
		Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
		document.dispatchEvent(new Event('visibilitychange'));
	})()`))
	bob.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "hey @alice"})
	bob.MustOK(map[string]any{"type": "dm", "to": "alice", "text": "psst"})
	bob.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "no mention here"})
	alice.waitJS("two notifications", `window.__notes.length === 2`)
	var notes []string
	var title string
	alice.eval(`window.__notes`, &notes)
	alice.eval(`document.title`, &title)
	if !strings.Contains(notes[0], "bob mentioned you") || !strings.Contains(notes[1], "Message from bob: psst") || title != "(2) Parley" {
		t.Errorf("notifications %q, title %q; want the mention and the DM, and (2) in the title", notes, title)
	}
	alice.run(runJS(`Object.defineProperty(document, 'hidden', {configurable: true, get: () => false}); document.dispatchEvent(new Event('visibilitychange'))`))
	alice.waitJS("the title to reset", `document.title === 'Parley'`)
	alice.clean()
}

// TestWebPhoneLayoutAndScreenshots checks the page at 375 px and takes the
// screenshots shown in the README (written to docs/screenshots when
// PARLEY_SCREENSHOTS=1).
func TestWebPhoneLayoutAndScreenshots(t *testing.T) {
	s := startServer(t, "--admin-token", "s3cret")
	dir := t.TempDir()
	if os.Getenv("PARLEY_SCREENSHOTS") == "1" {
		dir = "../../docs/screenshots"
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := newBrowser(t)
	phone := b.open(s.URL(), asPhone())
	phone.login("mei")
	var layout struct {
		ScrollWidth, ComposerBottom, SidebarRight float64
		SidebarVisible                            bool
	}
	measure := `(() => ({scrollWidth: document.documentElement.scrollWidth,
		composerBottom: document.getElementById('composer').getBoundingClientRect().bottom,
		sidebarRight: document.getElementById('sidebar').getBoundingClientRect().right,
		sidebarVisible: getComputedStyle(document.getElementById('sidebar')).visibility === 'visible'}))()`
	phone.eval(measure, &layout)
	var wide []string
	phone.eval(`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 376 && getComputedStyle(e).visibility !== 'hidden').map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + e.getBoundingClientRect().right)`, &wide)
	t.Logf("wide: %v", wide)
	if layout.ScrollWidth > 375 || layout.ComposerBottom > 740 || layout.SidebarVisible || layout.SidebarRight > 0 {
		t.Errorf("phone layout %+v; want no horizontal scroll, the composer on screen, the sidebar hidden", layout)
	}
	phone.run(chromedp.Click(chromedp.ID("nav-toggle")))
	phone.waitJS("the drawer open", `document.getElementById('sidebar').getBoundingClientRect().left >= 0 && getComputedStyle(document.getElementById('sidebar')).visibility === 'visible'`)
	phone.run(chromedp.Click(chromedp.CSS(`#room-list .conv[data-key="lobby"]`)))
	phone.waitJS("the drawer closed", `!document.body.classList.contains('nav-open')`)
	phone.typeAndSend("sent from a phone")
	phone.waitMessage("sent from a phone")

	// Screenshots: a lively room on a desktop and on a phone, light and dark.
	desk := b.open(s.URL())
	desk.login("alice")
	others := map[string]*wstest.Client{}
	for _, n := range []string{"bob", "李雷"} {
		others[n] = s.client(n)
		others[n].Join("lobby")
	}
	_, _ = post(t, s.URL()+"/api/announcements", "s3cret", map[string]any{"text": "Welcome to **Parley**! Be kind. 欢迎！"})
	script := []struct{ who, text string }{
		{"bob", "Morning all! The **release notes** are up: [changelog](https://example.com/changelog)"},
		{"bob", "Anything blocking?"},
		{"李雷", "早上好 👋 我这边没问题。"},
		{"alice", "Looks good to me. One thing:\n\n> the `--rate` flag needs docs\n\n@bob can you take it?"},
		{"bob", "On it — `parley serve --help` lists it already, I'll add an example."},
		{"李雷", "@mei 你看一下手机版的布局？"},
	}
	for _, line := range script {
		if line.who == "alice" {
			text, _ := json.Marshal(line.text)
			desk.run(runJS(`document.getElementById("text").value = `+string(text)), pressEnter())
			desk.waitMessage("One thing")
			continue
		}
		others[line.who].MustOK(map[string]any{"type": "send", "room": "lobby", "text": line.text})
	}
	desk.waitMessage("手机版")
	phone.waitMessage("手机版")
	desk.run(runJS(`document.getElementById('text').value = 'Thanks @bob'`))
	desk.screenshot(dir, "desktop-light.png")
	phone.screenshot(dir, "phone-light.png")
	for _, u := range []*user{desk, phone} {
		u.run(chromedp.Click(chromedp.ID("theme")))
	}
	desk.screenshot(dir, "desktop-dark.png")
	phone.run(chromedp.Click(chromedp.ID("nav-toggle")))
	time.Sleep(300 * time.Millisecond) // the drawer slides in
	phone.screenshot(dir, "phone-dark-drawer.png")
	shots, _ := os.ReadDir(dir)
	names := []string{}
	for _, e := range shots {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "desktop-dark.png") || !slices.Contains(names, "phone-dark-drawer.png") {
		t.Errorf("screenshots %v", names)
	}
	desk.clean()
	phone.clean()
}

func TestWebRejectedMessagesAreMarkedFailedAndRetriedOnce(t *testing.T) {
	s := startServer(t, "--rate", "2", "--burst", "10")
	b := newBrowser(t)
	alice := b.open(s.URL())
	alice.login("alice")
	time.Sleep(2 * time.Second) // let the bucket refill after the start-up commands
	// Ten messages at once: the rate limit refuses some of them.
	alice.run(runJS(`for (let i = 1; i <= 10; i++) { const t = document.getElementById('text'); t.value = 'burst ' + i; document.getElementById('composer').requestSubmit(); }`))
	alice.waitJS("failed messages with a retry button", `document.querySelectorAll('#messages li.msg.failed').length > 0 && document.querySelectorAll('#messages li.msg.pending').length === 0`)
	var reason string
	alice.eval(`document.querySelector('#messages li.msg.failed .state').innerText`, &reason)
	if !strings.Contains(reason, "Slow down") || !strings.Contains(reason, "Retry") {
		t.Errorf("a refused message says %q; want the reason and a Retry button", reason)
	}
	// Retry each, one at a time, as a person would.
	for i := 0; i < 20; i++ {
		var left int
		alice.eval(`document.querySelectorAll('#messages li.msg.failed').length`, &left)
		if left == 0 {
			break
		}
		time.Sleep(700 * time.Millisecond)
		alice.run(runJS(`document.querySelector('#messages li.msg.failed .state button').click()`))
	}
	alice.waitJS("every message delivered", `document.querySelectorAll('#messages li.msg.failed, #messages li.msg.pending').length === 0`)
	count := map[string]int{}
	for _, m := range alice.messages() {
		count[m.Text]++
	}
	for i := 1; i <= 10; i++ {
		if n := count[fmt.Sprintf("burst %d", i)]; n != 1 {
			t.Errorf("burst %d shown %d times; want once", i, n)
		}
	}
	h := s.client("bob")
	h.Join("lobby")
	hist := h.MustOK(map[string]any{"type": "history", "room": "lobby", "limit": 50})
	if n := len(hist["messages"].([]any)); n != 10 {
		t.Errorf("%d messages stored; want 10", n)
	}
	// Discard drops a failed message for good.
	s2 := startServer(t, "--max-message-chars", "10")
	carol := b.open(s2.URL())
	carol.login("carol")
	carol.typeAndSend("far too long for ten")
	carol.waitJS("the failed message", `document.querySelector('#messages li.msg.failed')`)
	carol.run(runJS(`[...document.querySelectorAll('#messages li.msg.failed .state button')].pop().click()`))
	carol.waitJS("the message gone", `!document.querySelector('#messages li.msg.failed')`)
	carol.run(chromedp.Reload())
	carol.waitJS("back in", `document.getElementById('status').dataset.state === 'open'`)
	if len(carol.messages()) != 0 {
		t.Errorf("a discarded message came back after reload: %+v", carol.messages())
	}
	alice.clean()
	carol.clean()
}

func TestWebAccessibilityLabelsContrastAndKeyboard(t *testing.T) {
	s := startServer(t, "--admin-token", "s3cret")
	b := newBrowser(t)
	alice := b.open(s.URL())
	// Keyboard only: the nickname field has focus; Enter joins.
	alice.run(chromedp.WaitVisible(chromedp.ID("nick")), runJS(`document.getElementById('nick').value = ''`), chromedp.SendKeys(chromedp.ID("nick"), "alice"), pressEnter())
	alice.waitJS("logged in", `document.getElementById('status').dataset.state === 'open'`)
	bob := s.client("bob")
	bob.Join("lobby")
	_, _ = post(t, s.URL()+"/api/announcements", "s3cret", map[string]any{"text": "Read the **rules**"})
	bob.MustOK(map[string]any{"type": "send", "room": "lobby", "text": "hi @alice, see [the rules](https://example.com) and `code`\n\n> quoted"})
	bob.MustOK(map[string]any{"type": "dm", "to": "alice", "text": "unread DM"})
	alice.typeAndSend("mine **bold**")
	alice.waitMessage("mine bold")
	alice.waitJS("the banner and the DM badge", `document.querySelector('#banners .banner') && document.querySelector('#dm-list .badge')`)

	// Every control has a name; new messages are in a live region.
	var unnamed []string
	alice.eval(`[...document.querySelectorAll('button, input, select, textarea')].filter(e => e.offsetParent !== null).filter(e =>
		!((e.getAttribute('aria-label') || '').trim() || (e.labels && e.labels.length) || e.textContent.trim() || e.title)).map(e => e.outerHTML)`, &unnamed)
	if len(unnamed) > 0 {
		t.Errorf("controls without a label: %q", unnamed)
	}
	var live string
	alice.eval(`document.getElementById('messages').getAttribute('role') + ' ' + document.getElementById('messages').getAttribute('aria-live')`, &live)
	if live != "log polite" {
		t.Errorf("message list role and aria-live = %q; want log polite", live)
	}

	// WCAG AA: 4.5:1 for text (3:1 for large text), in both themes.
	const contrastJS = `(() => {
		const rgb = s => s.match(/[\d.]+/g).map(Number);
		const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
		const bgOf = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length < 4 || c[3] > 0.5) return c; } return [255, 255, 255]; };
		const bad = [];
		let checked = 0;
		for (const e of document.querySelectorAll('body *')) {
			const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
			const st = getComputedStyle(e);
			if (!own || e.offsetParent === null && st.position !== 'fixed' || st.visibility === 'hidden' || e.closest('.visually-hidden, [hidden], option')) continue;
			const fg = lum(rgb(st.color)), bg = lum(bgOf(e));
			const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
			const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
			const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
			checked++;
			if (ratio < need) bad.push(e.tagName + '.' + e.className + ' "' + e.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
		}
		return {checked, bad};
	})()`
	for _, theme := range []string{"light", "dark"} {
		alice.run(runJS(`document.documentElement.dataset.theme = '` + theme + `'`))
		var res struct {
			Checked int
			Bad     []string
		}
		alice.eval(contrastJS, &res)
		if res.Checked < 15 || len(res.Bad) > 0 {
			t.Errorf("%s theme: %d text elements checked; below AA contrast: %q", theme, res.Checked, res.Bad)
		}
	}

	// Every control can be reached with Tab.
	alice.run(runJS(`document.getElementById('text').focus()`))
	reached := map[string]bool{}
	for i := 0; i < 40; i++ {
		alice.run(pressKey("Tab", 9, ""))
		var id string
		alice.eval(`(e => e.id || e.dataset.key || e.textContent.trim())(document.activeElement)`, &id)
		reached[id] = true
	}
	for _, want := range []string{"new-room", "lobby", "lang", "theme", "logout", "text", "send", "bob"} {
		if !reached[want] {
			t.Errorf("Tab never reaches %q (reached %v)", want, reached)
		}
	}
	// A room can be created from the keyboard: the + button, a name, Enter.
	alice.run(runJS(`document.getElementById('new-room').focus()`), pressEnter())
	alice.waitJS("the room name field focused", `document.activeElement === document.getElementById('room-input')`)
	alice.run(chromedp.SendKeys(chromedp.ID("room-input"), "keys"), pressEnter())
	alice.waitJS("in the new room, composer focused", `document.querySelector('.conv.active')?.dataset.key === 'keys' && document.activeElement === document.getElementById('text')`)
	alice.clean()
}

func TestWebStatusShowsOfflineAndRecovers(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t)
	alice := b.open(s.URL())
	alice.login("alice")
	alice.run(call(network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true}))
	alice.waitJS("the offline status", `document.getElementById('status').dataset.state === 'offline' && document.getElementById('status').textContent === 'Offline'`)
	alice.run(call(network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: false}))
	alice.waitJS("connected again", `document.getElementById('status').dataset.state === 'open'`)
	alice.typeAndSend("back online")
	alice.waitMessage("back online")
	alice.clean()
}

// The page's client_ids (client.js) sort in the order they were made — a
// time prefix, then random bits — so the server adds them at the end of
// its idempotency index; they are unique and fit the 64-byte limit.
func TestWebClientIDsSortInTheOrderTheyWereMade(t *testing.T) {
	s := startServer(t)
	watcher := s.client("watcher")
	watcher.Join("lobby")
	b := newBrowser(t)
	alice := b.open(s.URL())
	alice.login("alice")
	var ids []string
	for _, text := range []string{"first", "second", "third"} {
		alice.typeAndSend(text)
		ids = append(ids, watcher.Expect(isMessage(text)).Msg().Str("client_id"))
		time.Sleep(3 * time.Millisecond) // ids of one millisecond share a prefix but not an order
	}
	var made struct {
		Unique, Sorted bool
		Longest        int
	}
	alice.eval(`(() => {
		const ids = [];
		const until = Date.now() + 30;
		while (Date.now() < until) ids.push(ParleyClient.newClientID());
		const prefixes = ids.map(id => id.split("-")[0]);
		return {unique: new Set(ids).size === ids.length,
			sorted: prefixes.every((p, i) => i === 0 || prefixes[i-1] <= p),
			longest: Math.max(...ids.map(id => id.length))};
	})()`, &made)
	if !made.Unique || !made.Sorted || made.Longest > 64 {
		t.Errorf("ids made over 30 ms: %+v; want unique, sorted by their time prefix, at most 64 bytes", made)
	}
	for i, id := range ids {
		if !clientIDShape.MatchString(id) {
			t.Errorf("the page sent client_id %q; want 9 base-36 digits of time, '-', 16 hex digits", id)
		}
		if i > 0 && ids[i-1] >= id {
			t.Errorf("client_ids %q then %q: the later one does not sort after", ids[i-1], id)
		}
	}
	alice.clean()
}

var clientIDShape = regexp.MustCompile(`^[0-9a-z]{9}-[0-9a-f]{16}$`)
