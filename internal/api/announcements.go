package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
)

// Announcements, and the OpenAPI document.

func (h *Handler) announcements(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	all := false
	if s := r.URL.Query().Get("all"); s != "" {
		var err error
		if all, err = strconv.ParseBool(s); err != nil {
			return nil, parley.Errorf(parley.EInvalid, "query parameter all=%q: want true or false", s)
		}
	}
	var list []parley.Announcement
	var err error
	if all {
		h.authenticate(r, c)
		if err := allowed(admin, c); err != nil {
			return nil, err
		}
		list, err = h.cfg.Engine.AllAnnouncements(r.Context(), c.actor)
	} else {
		list, err = h.cfg.Engine.Announcements(r.Context())
	}
	if err != nil {
		return nil, err
	}
	return announcementsReply{Announcements: each(list, announcementOut)}, nil
}

func (h *Handler) announce(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	req := c.body.(*announceRequest)
	ttl, err := duration("ttl", req.TTL)
	if err != nil {
		return nil, err
	}
	starts, err := timestamp("starts_at", req.StartsAt)
	if err != nil {
		return nil, err
	}
	ends, err := timestamp("ends_at", req.EndsAt)
	if err != nil {
		return nil, err
	}
	if !ends.IsZero() && !starts.IsZero() && !ends.After(starts) {
		return nil, parley.Errorf(parley.EInvalid, "ends_at must be after starts_at")
	}
	a, err := h.cfg.Engine.Announce(r.Context(), c.actor, node.AnnouncementRequest{Text: req.Text, StartsAt: starts, TTL: ttl, EndsAt: ends})
	if err != nil {
		return nil, err
	}
	return announcementOut(a), nil
}

func (h *Handler) deleteAnnouncement(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, err
	}
	_, err = h.cfg.Engine.DeleteAnnouncement(r.Context(), c.actor, id)
	return nil, err
}

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	return json.RawMessage(h.doc), nil
}
