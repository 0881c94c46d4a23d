package api

import (
	"net/http"

	"github.com/parley-chat/parley"
)

// Accounts: register, log in and out, change the password, who am I,
// users and their roles, API keys.

func (h *Handler) register(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	req := c.body.(*registerRequest)
	l, err := h.cfg.Engine.Register(r.Context(), req.Nickname, req.Password, req.Token, c.clientIP)
	if err != nil {
		return nil, err
	}
	h.setSession(w, c, l)
	return loginOut(l), nil
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	req := c.body.(*loginRequest)
	l, err := h.cfg.Engine.Login(r.Context(), req.Nickname, req.Password, c.clientIP)
	if err != nil {
		return nil, err
	}
	h.setSession(w, c, l)
	return loginOut(l), nil
}

// logout ends the session the request carries, valid or not (an expired
// cookie is cleared all the same).
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	if c.token == "" {
		if c.authed {
			return nil, parley.Errorf(parley.EForbidden, "logout ends a login session; this credential is not one")
		}
		return nil, c.authErr
	}
	if err := h.cfg.Engine.Logout(r.Context(), c.token); err != nil {
		return nil, err
	}
	if c.cookie {
		h.clearSession(w, c)
	}
	return nil, nil
}

func (h *Handler) password(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	req := c.body.(*passwordRequest)
	l, err := h.cfg.Engine.ChangePassword(r.Context(), c.token, req.CurrentPassword, req.NewPassword)
	if err != nil {
		return nil, err
	}
	if c.cookie {
		h.setSession(w, c, l)
	}
	return loginOut(l), nil
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	if c.actor.Via == "session" {
		return meReply{Nickname: c.user.Nickname, Role: c.user.Role, Registered: c.user.Registered, Via: c.actor.Via}, nil
	}
	return meReply{Nickname: c.actor.Name, Role: c.actor.Role, Via: c.actor.Via}, nil
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return nil, err
	}
	list, err := h.cfg.Engine.Users(r.Context(), c.actor, r.URL.Query().Get("after"), int(limit))
	if err != nil {
		return nil, err
	}
	out := usersReply{Users: make([]userJSON, len(list))}
	for i, u := range list {
		online := u.Online
		out.Users[i] = userOut(u.User, &online)
	}
	return out, nil
}

func (h *Handler) setRole(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	role := parley.Role(*c.body.(*roleRequest).Role)
	if !parley.ValidRole(role) {
		return nil, parley.Errorf(parley.EInvalid, "role %q: want \"admin\", \"moderator\" or \"\"", role)
	}
	u, err := h.cfg.Engine.SetRole(r.Context(), c.actor, r.PathValue("nickname"), role)
	if err != nil {
		return nil, err
	}
	return userOut(u, nil), nil
}

func (h *Handler) keys(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	keys, err := h.cfg.Engine.APIKeys(r.Context(), c.actor)
	if err != nil {
		return nil, err
	}
	return keysReply{Keys: each(keys, keyOut)}, nil
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	k, secret, err := h.cfg.Engine.CreateAPIKey(r.Context(), c.actor, c.body.(*keyRequest).Name)
	if err != nil {
		return nil, err
	}
	return newKeyReply{Key: keyOut(k), Secret: secret}, nil
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, err
	}
	_, err = h.cfg.Engine.RevokeAPIKey(r.Context(), c.actor, id)
	return nil, err
}
