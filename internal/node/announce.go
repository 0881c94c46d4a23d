package node

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-chat/parley"
)

// Announce stores a site-wide announcement, active for ttl (0: the default),
// and pushes it to everyone connected. Authorization is the caller's: only
// an administrator may reach this.
func (n *Node) Announce(ctx context.Context, text string, ttl time.Duration) (parley.Announcement, error) {
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
	if ttl == 0 {
		ttl = n.cfg.AnnouncementT
	}
	now := n.cfg.Now().UTC()
	html, _ := n.render.Render(text)
	a, err := n.store.AddAnnouncement(ctx, parley.Announcement{Text: text, HTML: html, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	if err != nil {
		return a, err
	}
	n.publish(ctx, &parley.Event{Kind: parley.EventAnnouncement, Announcement: &a})
	return a, nil
}

// Announcements returns the active announcements.
func (n *Node) Announcements(ctx context.Context) ([]parley.Announcement, error) {
	return n.store.ActiveAnnouncements(ctx, n.cfg.Now())
}
