package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive the real page in Debian's chromium (headless)
// against the real server. Without chromium they are skipped, except in CI
// (CI=true), where a missing browser fails them: .ci/run installs it.

// browserTimeout bounds each step of a browser test.
const browserTimeout = 20 * time.Second

// chromiumPath finds the browser, or skips (fails in CI) without one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("PARLEY_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); browser tests skipped")
	return ""
}

// browser is one headless chromium process; each user is a separate
// browser context (its own localStorage), like separate browsers.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return &browser{t: t, ctx: ctx}
}

// user is one person's page: a tab in its own browser context, with what
// the page did recorded for the checks.
type user struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu         sync.Mutex
	dialogs    []string // alert, confirm, prompt: none may open
	errors     []string // console errors and uncaught exceptions
	requests   []string // every URL the page asked for
	lang       string   // Accept-Language to emulate, if any
	mobileSize bool
}

type userOption func(*user)

func withLanguage(lang string) userOption { return func(u *user) { u.lang = lang } }
func asPhone() userOption                 { return func(u *user) { u.mobileSize = true } }

// open opens base in a new browser context.
func (b *browser) open(base string, opts ...userOption) *user {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	u := &user{t: b.t, ctx: ctx, base: base}
	for _, o := range opts {
		o(u)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		u.mu.Lock()
		defer u.mu.Unlock()
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			u.dialogs = append(u.dialogs, string(ev.Type)+": "+ev.Message)
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				u.errors = append(u.errors, "console.error: "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			u.errors = append(u.errors, "exception: "+msg)
		case *network.EventRequestWillBeSent:
			u.requests = append(u.requests, ev.Request.URL)
		}
	})
	if err != nil {
		b.t.Fatalf("listen: %v", err)
	}
	actions := []chromedp.Action[chromedp.Void]{call(network.Enable, network.EnableParams{})}
	if u.lang != "" {
		actions = append(actions, call(emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome", AcceptLanguage: u.lang}))
	}
	if u.mobileSize {
		actions = append(actions,
			call(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 375, Height: 740, DeviceScaleFactor: 2, Mobile: true}),
			call(emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true}))
	}
	actions = append(actions, chromedp.Navigate(base+"/"))
	u.run(actions...)
	return u
}

// call is a DevTools command as an action.
func call[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cmd, params)
		return err
	})
}

// runJS runs JavaScript statements in the page.
func runJS(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[string]("(() => {\n"+js+"\n;return 'ok';})()"))
		return err
	})
}

// run runs actions with the step timeout, failing the test on error.
func (u *user) run(actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		u.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression and stores its value, through
// JSON, in out.
func (u *user) eval(expr string, out any) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, browserTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("JSON.stringify(("+expr+") ?? null)"))
	if err != nil {
		u.t.Fatalf("evaluate %s: %v", expr, err)
	}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		u.t.Fatalf("evaluate %s: %v (%s)", expr, err, s)
	}
}

// waitJS waits until expr is truthy.
func (u *user) waitJS(what, expr string) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, browserTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		dump, _ := chromedp.Run(u.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(-1500)`))
		u.t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, dump)
	}
}

// login joins the chat as nick from the login form.
func (u *user) login(nick string) {
	u.t.Helper()
	u.run(
		chromedp.WaitVisible(chromedp.ID("nick")),
		chromedp.SetValue(chromedp.ID("nick"), nick),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("app")),
	)
	u.waitJS("the lobby to open", `document.querySelector('.conv.active')?.dataset.key === 'lobby' && document.getElementById('status').dataset.state === 'open'`)
}

// typeAndSend types text in the composer and presses Enter.
func (u *user) typeAndSend(text string) {
	u.t.Helper()
	u.run(chromedp.Focus(chromedp.ID("text")), chromedp.SendKeys(chromedp.ID("text"), text), pressEnter())
}

// pressEnter presses Enter as a keyboard does: a keydown that, unless the
// page prevents it, types a new line. (chromedp's KeyEvent sends the
// character as a separate event that ignores preventDefault.)
func pressEnter(mods ...chromedp.Modifier) chromedp.Action[chromedp.Void] {
	return pressKey("Enter", 13, "\r", mods...)
}

// pressKey presses and releases one key; text is what it types if the
// page does not prevent the keydown.
func pressKey(key string, code int64, text string, mods ...chromedp.Modifier) chromedp.Action[chromedp.Void] {
	var m int64
	for _, x := range mods {
		m |= int64(x)
	}
	ev := func(typ input.DispatchKeyEventType, text string) chromedp.Action[chromedp.Void] {
		return call(input.DispatchKeyEvent, input.DispatchKeyEventParams{Type: typ, Key: key, Code: key,
			Text: text, UnmodifiedText: text, WindowsVirtualKeyCode: code, NativeVirtualKeyCode: code, Modifiers: m})
	}
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		return chromedp.Do(ctx, ev(input.DispatchKeyEventTypeKeyDown, text), ev(input.DispatchKeyEventTypeKeyUp, ""))
	})
}

// shownMessage is a message as the page shows it.
type shownMessage struct {
	Seq     int    `json:"seq"`
	From    string `json:"from"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
	Mine    bool   `json:"mine"`
	Pending bool   `json:"pending"`
	Failed  bool   `json:"failed"`
	Cont    bool   `json:"cont"`
	Mention bool   `json:"mention"`
}

const shownMessagesJS = `[...document.querySelectorAll('#messages li.msg')].map(li => ({
	seq: Number(li.dataset.seq || 0), from: li.dataset.from || '',
	text: li.querySelector('.body').innerText.trim(), html: li.querySelector('.body').innerHTML,
	mine: li.classList.contains('mine'), pending: li.classList.contains('pending'), failed: li.classList.contains('failed'),
	cont: li.classList.contains('cont'), mention: li.classList.contains('mentioned')}))`

// messages returns the messages of the open conversation, in page order.
func (u *user) messages() []shownMessage {
	u.t.Helper()
	var out []shownMessage
	u.eval(shownMessagesJS, &out)
	return out
}

// waitMessage waits until the open conversation shows a confirmed message
// whose text contains s, and returns it.
func (u *user) waitMessage(s string) shownMessage {
	u.t.Helper()
	q, _ := json.Marshal(s)
	u.waitJS("a message containing "+string(q), fmt.Sprintf(`[...document.querySelectorAll('#messages li.msg[data-seq] .body')].some(b => b.innerText.includes(%s))`, q))
	for _, m := range u.messages() {
		if strings.Contains(m.Text, s) && m.Seq > 0 {
			return m
		}
	}
	u.t.Fatalf("message %q vanished", s)
	return shownMessage{}
}

// text returns the page's visible text.
func (u *user) text() string {
	u.t.Helper()
	var s string
	u.eval(`document.body.innerText`, &s)
	return s
}

// clean fails the test if the page raised a dialog or logged an error.
func (u *user) clean() {
	u.t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.dialogs) > 0 || len(u.errors) > 0 {
		u.t.Errorf("page dialogs %q, errors %q", u.dialogs, u.errors)
	}
}

// foreignRequests lists requests to anything but the page's own files and
// endpoints on the test server.
func (u *user) foreignRequests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	allowed := []string{"/", "/app.js", "/client.js", "/i18n.js", "/ui.js", "/style.css", "/favicon.svg", "/ws"}
	var bad []string
	for _, r := range u.requests {
		p, err := url.Parse(r)
		if err != nil || p.Host != strings.TrimPrefix(u.base, "http://") || !slices.Contains(allowed, p.Path) {
			bad = append(bad, r)
		}
	}
	return bad
}

// screenshot saves a PNG of the page to dir/name.
func (u *user) screenshot(dir, name string) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, browserTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		u.t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 1000 {
		u.t.Fatalf("screenshot %s: %d bytes", name, len(png))
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		u.t.Fatal(err)
	}
}
