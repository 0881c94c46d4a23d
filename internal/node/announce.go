package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parley-chat/parley"
)

// AnnouncementRequest asks for an announcement.
type AnnouncementRequest struct {
	Text     string
	StartsAt time.Time     // zero: now
	TTL      time.Duration // how long from StartsAt; 0: EndsAt, or the default
	EndsAt   time.Time     // used when TTL is 0; zero: the default lifetime
}

// Announce stores a site-wide announcement and pushes it to everyone
// connected when it starts (now, or at StartsAt on every node). Admins only.
func (n *Node) Announce(ctx context.Context, by parley.Actor, req AnnouncementRequest) (parley.Announcement, error) {
	if err := requireAdmin(by); err != nil {
		return parley.Announcement{}, err
	}
	text, ttl := req.Text, req.TTL
	switch {
	case strings.TrimSpace(text) == "":
		return parley.Announcement{}, parley.Errorf(parley.EMissingField, "missing field: text")
	case !utf8.ValidString(text):
		return parley.Announcement{}, parley.Errorf(parley.EInvalid, "text is not valid UTF-8")
	case utf8.RuneCountInString(text) > n.cfg.MaxTextChars:
		return parley.Announcement{}, parley.Errorf(parley.ETooLarge, "text is longer than %d characters", n.cfg.MaxTextChars)
	case ttl < 0:
		return parley.Announcement{}, parley.Errorf(parley.EInvalid, "ttl must not be negative")
	}
	now := n.cfg.Now().UTC()
	starts := req.StartsAt.UTC()
	if starts.Before(now) {
		starts = now // never before it was made
	}
	var ends time.Time
	switch {
	case ttl > 0:
		ends = starts.Add(ttl)
	case !req.EndsAt.IsZero():
		ends = req.EndsAt.UTC()
		if !ends.After(starts) {
			return parley.Announcement{}, parley.Errorf(parley.EInvalid, "an announcement ends after it starts")
		}
	default:
		ends = starts.Add(n.cfg.AnnouncementT)
	}
	html, _ := n.render.Render(text)
	a, err := n.store.AddAnnouncement(ctx, parley.Announcement{Text: text, HTML: html, CreatedAt: now, StartsAt: starts, ExpiresAt: ends, By: by.Name})
	if err != nil {
		return a, fmt.Errorf("store an announcement: %w", err)
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActAnnounce, Target: fmt.Sprint(a.ID), Detail: excerpt(text, 80)})
	n.publish(ctx, &parley.Event{Kind: parley.EventAnnouncement, Announcement: &a})
	return a, nil
}

// excerpt is the first max characters of text, for the log.
func excerpt(text string, max int) string {
	if utf8.RuneCountInString(text) <= max {
		return text
	}
	return string([]rune(text)[:max]) + "…"
}

// Announcements returns the active announcements.
func (n *Node) Announcements(ctx context.Context) ([]parley.Announcement, error) {
	return n.store.ActiveAnnouncements(ctx, n.cfg.Now())
}

// AllAnnouncements lists the announcements not yet over, scheduled ones
// included. Admins only.
func (n *Node) AllAnnouncements(ctx context.Context, by parley.Actor) ([]parley.Announcement, error) {
	if err := requireAdmin(by); err != nil {
		return nil, err
	}
	anns, err := n.store.Announcements(ctx, n.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("list announcements: %w", err)
	}
	return anns, nil
}

// DeleteAnnouncement withdraws the announcement id: clients stop showing
// it (EventAnnouncementDeleted). Admins only.
func (n *Node) DeleteAnnouncement(ctx context.Context, by parley.Actor, id int64) (parley.Announcement, error) {
	if err := requireAdmin(by); err != nil {
		return parley.Announcement{}, err
	}
	a, err := n.store.DeleteAnnouncement(ctx, id)
	if parley.ErrorCode(err) == parley.ENotFound {
		return a, parley.Errorf(parley.ENotFound, "no announcement %d", id)
	} else if err != nil {
		return a, fmt.Errorf("delete announcement %d: %w", id, err)
	}
	n.logAction(ctx, by, parley.Action{Kind: parley.ActDeleteAnnouncement, Target: fmt.Sprint(a.ID), Detail: excerpt(a.Text, 80)})
	n.publish(ctx, &parley.Event{Kind: parley.EventAnnouncementDeleted, Announcement: &a})
	return a, nil
}

// Scheduled announcements. Every node pushes an announcement to its own
// sessions when it starts: at once when its event arrives if it has
// started, else when the node's timer for the next start fires. The timer
// is set from the store (when the node starts, and again each time it
// fires) and moved earlier by the events of announcements that start
// sooner; so each session gets it once, from its own node. Sessions that
// say hello later get the active ones after their welcome.

// announcer is a node's timer for the next scheduled start.
type announcer struct {
	mu      sync.Mutex
	timer   *time.Timer
	next    time.Time      // when timer fires (zero: no timer)
	pushed  map[int64]bool // scheduled announcements pushed here already
	since   time.Time      // announcements that started before this were not this timer's to push
	stopped bool
}

// announcementEvent delivers an announcement that has started to every
// session here, and lets the timer know of one that has not.
func (n *Node) announcementEvent(ev *parley.Event) {
	a := ev.Announcement
	if a == nil {
		return
	}
	if a.StartsAt.After(n.cfg.Now()) {
		n.ann.changed(n, a)
		return
	}
	n.ann.mu.Lock()
	if n.ann.pushed == nil {
		n.ann.pushed = make(map[int64]bool)
	}
	n.ann.pushed[a.ID] = true
	n.ann.mu.Unlock()
	n.deliverEveryone(ev)
}

// start sets the timer from the store (New).
func (t *announcer) start(n *Node) {
	t.mu.Lock()
	t.since = n.cfg.Now()
	t.mu.Unlock()
	if !n.begin() {
		return
	}
	go func() {
		defer n.inflight.Done()
		n.pushDue()
	}()
}

// changed says that the scheduled announcements changed: a (if not nil)
// starts later, or one was deleted (the timer reads the store when it
// fires). The timer is moved earlier for a.
func (t *announcer) changed(n *Node, a *parley.Announcement) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped && a != nil && (t.next.IsZero() || a.StartsAt.Before(t.next)) {
		t.setLocked(n, a.StartsAt)
	}
}

// setLocked sets the timer to fire at at (by Config.Now).
func (t *announcer) setLocked(n *Node, at time.Time) {
	if t.timer != nil {
		t.timer.Stop()
	}
	t.next = at
	t.timer = time.AfterFunc(max(at.Sub(n.cfg.Now()), 0), n.announceDue)
}

// announceDue is the timer's function.
func (n *Node) announceDue() {
	if !n.begin() {
		return
	}
	defer n.inflight.Done()
	n.pushDue()
}

// pushDue pushes the scheduled announcements that have started and were
// not pushed here yet, and sets the timer for the next start.
func (n *Node) pushDue() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	now := n.cfg.Now()
	anns, err := n.store.Announcements(ctx, now)
	t := &n.ann
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return
	}
	if err != nil {
		n.log.Warn("load scheduled announcements; trying again in a minute", "err", err)
		t.setLocked(n, now.Add(time.Minute))
		t.mu.Unlock()
		return
	}
	if t.pushed == nil {
		t.pushed = make(map[int64]bool)
	}
	var due []*parley.Announcement
	var next time.Time
	kept := make(map[int64]bool, len(t.pushed))
	for i := range anns {
		a := &anns[i]
		switch {
		case a.StartsAt.After(now):
			if next.IsZero() || a.StartsAt.Before(next) {
				next = a.StartsAt
			}
		case t.pushed[a.ID]:
			kept[a.ID] = true
		case a.StartsAt.After(t.since):
			due = append(due, a)
			kept[a.ID] = true
		}
	}
	t.pushed = kept // forget the expired and deleted
	if t.timer != nil {
		t.timer.Stop()
		t.timer, t.next = nil, time.Time{}
	}
	if !next.IsZero() {
		t.setLocked(n, next)
	}
	t.mu.Unlock()
	for _, a := range due {
		n.deliverEveryone(&parley.Event{Kind: parley.EventAnnouncement, Announcement: a})
	}
}

// stop stops the timer for good (Shutdown).
func (t *announcer) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.timer != nil {
		t.timer.Stop()
	}
}
