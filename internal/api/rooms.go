package api

import (
	"net/http"
	"time"

	"github.com/parley-chat/parley"
)

// Rooms: list them, read and post messages, and the moderation of one
// room (delete, slow mode, mutes).

func (h *Handler) rooms(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	list, err := h.cfg.Engine.RoomList(r.Context(), c.actor)
	if err != nil {
		return nil, err
	}
	return roomsReply{Rooms: each(list, listingOut)}, nil
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	var q [3]int64
	for i, name := range []string{"before", "after", "limit"} {
		var err error
		if q[i], err = queryInt(r, name); err != nil {
			return nil, err
		}
	}
	msgs, more, err := h.cfg.Engine.RoomHistory(r.Context(), c.actor, r.PathValue("room"), q[0], q[1], int(q[2]))
	if err != nil {
		return nil, err
	}
	return messagesReply{Messages: each(msgs, messageOut), HasMore: more}, nil
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	req := c.body.(*postRequest)
	m, dup, err := h.cfg.Engine.Post(r.Context(), c.actor, r.PathValue("room"), req.Text, req.ClientID)
	if err != nil {
		return nil, err
	}
	return postReply{Message: messageOut(m), Duplicate: dup}, nil
}

func (h *Handler) deleteMessage(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	seq, err := pathInt(r, "seq")
	if err != nil {
		return nil, err
	}
	m, err := h.cfg.Engine.DeleteMessage(r.Context(), c.actor, r.PathValue("room"), seq)
	if err != nil {
		return nil, err
	}
	return messageReply{Message: messageOut(m)}, nil
}

// maxSlowMode is the longest slow mode: an hour between messages is
// already a room that is closed.
const maxSlowMode = 3600

func (h *Handler) slowMode(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	s := *c.body.(*slowModeRequest).Seconds
	if s < 0 || s > maxSlowMode {
		return nil, parley.Errorf(parley.EInvalid, "seconds must be 0 (off) to %d", maxSlowMode)
	}
	room, err := h.cfg.Engine.SetSlowMode(r.Context(), c.actor, r.PathValue("room"), time.Duration(s)*time.Second)
	if err != nil {
		return nil, err
	}
	return roomOut(room, nil), nil
}

func (h *Handler) mutes(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	list, err := h.cfg.Engine.Mutes(r.Context(), c.actor, r.PathValue("room"))
	if err != nil {
		return nil, err
	}
	return mutesReply{Mutes: each(list, muteOut)}, nil
}

func (h *Handler) mute(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	req := c.body.(*muteRequest)
	d, err := duration("duration", req.Duration)
	if err != nil {
		return nil, err
	}
	m, err := h.cfg.Engine.Mute(r.Context(), c.actor, r.PathValue("room"), req.Nickname, d, req.Reason)
	if err != nil {
		return nil, err
	}
	return muteOut(m), nil
}

func (h *Handler) unmute(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	return nil, h.cfg.Engine.Unmute(r.Context(), c.actor, r.PathValue("room"), r.PathValue("nickname"))
}
