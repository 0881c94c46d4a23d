package node

import (
	"context"
	"strings"
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

// AllAnnouncements lists the announcements not yet over, scheduled ones
// included. Admins only.
func (n *Node) AllAnnouncements(ctx context.Context, by parley.Actor) ([]parley.Announcement, error) {
	return nil, errTODO
}

// DeleteAnnouncement withdraws the announcement id: clients stop showing
// it (EventAnnouncementDeleted). Admins only.
func (n *Node) DeleteAnnouncement(ctx context.Context, by parley.Actor, id int64) (parley.Announcement, error) {
	return parley.Announcement{}, errTODO
}
