package api

import (
	"net/http"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/node"
)

// Moderation of people: kick, bans, the action log.

func (h *Handler) kick(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	req := c.body.(*kickRequest)
	return nil, h.cfg.Engine.Kick(r.Context(), c.actor, req.Nickname, req.Reason)
}

func (h *Handler) bans(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	list, err := h.cfg.Engine.Bans(r.Context(), c.actor)
	if err != nil {
		return nil, err
	}
	showIP := c.actor.Role.IsAdmin()
	return bansReply{Bans: each(list, func(b parley.Ban) banJSON { return banOut(b, showIP) })}, nil
}

func (h *Handler) ban(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	req := c.body.(*banRequest)
	kind := parley.BanKind(req.Kind)
	if kind != parley.BanAccount && kind != parley.BanNickname && kind != parley.BanIP {
		return nil, parley.Errorf(parley.EInvalid, "kind %q: want account, nickname or ip", req.Kind)
	}
	d, err := duration("duration", req.Duration)
	if err != nil {
		return nil, err
	}
	b, err := h.cfg.Engine.Ban(r.Context(), c.actor, node.BanRequest{Kind: kind, Target: req.Target, Reason: req.Reason, For: d})
	if err != nil {
		return nil, err
	}
	return banOut(b, c.actor.Role.IsAdmin()), nil
}

func (h *Handler) unban(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, err
	}
	_, err = h.cfg.Engine.Unban(r.Context(), c.actor, id)
	return nil, err
}

func (h *Handler) actionLog(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	before, err := queryInt(r, "before")
	if err != nil {
		return nil, err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return nil, err
	}
	list, err := h.cfg.Engine.ActionLog(r.Context(), c.actor, before, int(limit))
	if err != nil {
		return nil, err
	}
	return actionsReply{Actions: each(list, actionOut)}, nil
}
