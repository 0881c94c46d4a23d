package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/httperr"
	"github.com/parley-chat/parley/internal/peer"
)

// APIKeyPrefix starts every API key secret: a bearer secret with it is
// looked up as a key first.
const APIKeyPrefix = "pk_"

// call is one request on its way through a route: who asks, with what.
type call struct {
	actor parley.Actor
	user  parley.User // the session's user, for Via "session"
	// token is the login session token the request carried (bearer or
	// cookie), "" if none; authErr why it did not authenticate.
	token     string
	cookie    bool // the credential is the cookie
	authed    bool
	authErr   error
	body      any // *the route's Body type, decoded
	clientIP  netip.Addr
	secureReq bool // the client reached us over HTTPS
}

// handlerFunc answers a call: the success body (nil for none) or an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) (any, error)

var errNoCredential = parley.Errorf(parley.EUnauthorized,
	"this needs a credential: Authorization: Bearer <API key, admin token or session token>, or the login cookie")

// wrap turns a route into a handler: credentials, CSRF, role, body, then
// the route's own work, then the answer.
func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{clientIP: h.cfg.Peers.ClientIP(r.RemoteAddr, r.Header), secureReq: h.secure(r)}
		// An optional credential is looked up only when it matters: a
		// change (logout), or when the handler asks (announcements?all).
		if rt.Who != public && (rt.Who != optional || unsafe(r.Method)) {
			h.authenticate(r, c)
		}
		if err := h.checkOrigin(r, c); err != nil {
			httperr.Write(w, err)
			return
		}
		if err := allowed(rt.Who, c); err != nil {
			h.fail(w, r, rt, err)
			return
		}
		if rt.Body != nil {
			body, status, err := decode(w, r, rt.Body)
			if err != nil {
				writeStatus(w, status, err)
				return
			}
			c.body = body
		}
		out, err := rt.handle(w, r, c)
		if err != nil {
			h.fail(w, r, rt, err)
			return
		}
		writeJSON(w, rt.Status, out)
	})
}

// fail answers err: 401 says which credentials would do, and internal
// errors are logged (their details never reach the client).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, rt route, err error) {
	switch parley.ErrorCode(err) {
	case parley.EUnauthorized:
		if rt.Who != public {
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
		}
	case parley.EInternal:
		h.cfg.Logger.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	httperr.Write(w, err)
}

// authenticate finds who r comes from: the Authorization header if there
// is one (an API key, the admin token, a login session token), else the
// login cookie. It records the outcome in c; allowed decides.
func (h *Handler) authenticate(r *http.Request, c *call) {
	ctx := r.Context()
	if auth := r.Header.Get("Authorization"); auth != "" {
		secret, ok := strings.CutPrefix(auth, "Bearer ")
		if secret = strings.TrimSpace(secret); !ok || secret == "" {
			c.authErr = parley.Errorf(parley.EUnauthorized, "the Authorization header must be \"Bearer <secret>\"")
			return
		}
		if h.cfg.AdminToken != "" {
			if sum := hashSecret(secret); subtle.ConstantTimeCompare(sum[:], h.admin[:]) == 1 {
				c.actor, c.authed = parley.Actor{Name: "operator", Role: parley.RoleAdmin, Via: "admin_token"}, true
				return
			}
		}
		if strings.HasPrefix(secret, APIKeyPrefix) {
			if actor, err := h.cfg.Engine.AuthenticateKey(ctx, secret); err == nil {
				c.actor, c.authed = actor, true
				return
			} else if parley.ErrorCode(err) != parley.EUnauthorized {
				c.authErr = err
				return
			}
			// A session token may start with the prefix too: go on.
		}
		c.token = secret
	} else if ck, err := r.Cookie(peer.CookieName); err == nil && ck.Value != "" {
		c.token, c.cookie = ck.Value, true
	} else {
		c.authErr = errNoCredential
		return
	}
	actor, user, err := h.cfg.Engine.Authenticate(ctx, c.token)
	if err != nil {
		if code := parley.ErrorCode(err); code == parley.EUnauthorized || code == parley.ENotFound || code == parley.EBadToken {
			err = parley.Errorf(parley.EUnauthorized, "the credential is unknown, revoked or expired")
		}
		c.authErr = err
		return
	}
	c.actor, c.user, c.authed = actor, user, true
}

// allowed checks that c may call a route open to who.
func allowed(who access, c *call) error {
	if who == public || who == optional {
		return nil
	}
	if !c.authed {
		return c.authErr
	}
	switch {
	case who == session && c.actor.Via != "session":
		return parley.Errorf(parley.EForbidden, "this needs a login session, not an API key or the admin token")
	case who == moderator && !c.actor.Role.CanModerate():
		return parley.Errorf(parley.EForbidden, "this needs a moderator or an admin")
	case who == admin && !c.actor.Role.IsAdmin():
		return parley.Errorf(parley.EForbidden, "this needs an admin")
	}
	return nil
}

// checkOrigin refuses cross-site requests that change something: any
// POST, PUT or DELETE whose Origin is not allowed, and one carried by the
// cookie with no Origin at all (browsers send it on such requests; only a
// forgery would not). A browser that sends "Origin: null" for its own page
// (the spec says so under Referrer-Policy: no-referrer, which the page
// sets) is known by Sec-Fetch-Site: same-origin, which no script can set.
func (h *Handler) checkOrigin(r *http.Request, c *call) error {
	if !unsafe(r.Method) {
		return nil
	}
	o := r.Header.Get("Origin")
	sameOrigin := r.Header.Get("Sec-Fetch-Site") == "same-origin"
	switch {
	case (o == "" || o == "null") && sameOrigin:
		return nil
	case o != "" && !h.cfg.Origins.Allows(o, r.Host):
		return parley.Errorf(parley.EForbidden, "origin %s may not call this API (see --allowed-origins)", o)
	case o == "" && c.cookie:
		return parley.Errorf(parley.EForbidden, "a request with the login cookie must carry an Origin header")
	}
	return nil
}

// secure reports whether the client reached the server over HTTPS: TLS
// here, or a trusted proxy says X-Forwarded-Proto: https.
func (h *Handler) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https") {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range h.cfg.Peers.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// setSession sets the login cookie for l.
func (h *Handler) setSession(w http.ResponseWriter, c *call, l parley.Login) {
	ttl := h.cfg.SessionTTL
	if !l.ExpiresAt.IsZero() {
		ttl = l.ExpiresAt.Sub(h.cfg.Now())
	}
	http.SetCookie(w, h.cookie(c, l.Token, max(1, int(ttl/time.Second))))
}

// clearSession clears the login cookie.
func (h *Handler) clearSession(w http.ResponseWriter, c *call) {
	http.SetCookie(w, h.cookie(c, "", -1))
}

func (h *Handler) cookie(c *call, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: peer.CookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secureReq}
}

func hashSecret(s string) [32]byte { return sha256.Sum256([]byte(s)) }
