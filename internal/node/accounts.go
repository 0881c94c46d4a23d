package node

import (
	"context"
	"net/netip"

	"github.com/parley-chat/parley"
)

// Accounts: registered nicknames, logins, roles and API keys. Every method
// that needs a role takes the Actor asking and checks it here.

// Register makes nick a registered nickname with password and logs its
// owner in. heldToken is the guest token of whoever asks if they hold nick
// now (they said hello as nick); otherwise nick must be free to claim (as
// for hello: nobody online with it, not held within NickHold). A
// registered nickname answers ENicknameTaken. The password is 8–256
// characters and not the nickname.
func (n *Node) Register(ctx context.Context, nick, password, heldToken string, ip netip.Addr) (parley.Login, error) {
	return parley.Login{}, errTODO
}

// Login checks nick's password and starts a login session. A wrong
// nickname or password is EUnauthorized (the same message for both); too
// many failures from ip or for nick are ERateLimited with RetryAfter; a
// banned account is EBanned.
func (n *Node) Login(ctx context.Context, nick, password string, ip netip.Addr) (parley.Login, error) {
	return parley.Login{}, errTODO
}

// Logout ends the login session token (no error if it is unknown).
func (n *Node) Logout(ctx context.Context, token string) error { return errTODO }

// ChangePassword checks current, sets next, ends every other session of
// the user (and their connections that came in with them) and returns a
// new login that replaces token.
func (n *Node) ChangePassword(ctx context.Context, token, current, next string) (parley.Login, error) {
	return parley.Login{}, errTODO
}

// Authenticate returns the actor and user of a login session token, with
// the role as stored now, or EUnauthorized.
func (n *Node) Authenticate(ctx context.Context, token string) (parley.Actor, parley.User, error) {
	return parley.Actor{}, parley.User{}, errTODO
}

// AuthenticateKey returns the actor of an API key secret (Name "key:"+the
// key's name, RoleAdmin, Via "api_key"), or EUnauthorized if it is unknown
// or revoked.
func (n *Node) AuthenticateKey(ctx context.Context, secret string) (parley.Actor, error) {
	return parley.Actor{}, errTODO
}

// SetRole gives the registered user nick role (RoleUser takes roles away).
// Admins only; an admin cannot take their own admin role (so that one is
// always left). The user's sessions learn it at once (EventRole).
func (n *Node) SetRole(ctx context.Context, by parley.Actor, nick string, role parley.Role) (parley.User, error) {
	return parley.User{}, errTODO
}

// UserInfo is a user as the API lists them.
type UserInfo struct {
	parley.User
	Online bool // connected to some node now
}

// Users lists known users by NickKey after after, at most limit (0: 100,
// at most 1,000). Any authenticated actor.
func (n *Node) Users(ctx context.Context, by parley.Actor, after string, limit int) ([]UserInfo, error) {
	return nil, errTODO
}

// CreateAPIKey creates an API key called name (a valid nickname: the API
// posts under it) and returns it with its secret, shown this once. Admins
// only.
func (n *Node) CreateAPIKey(ctx context.Context, by parley.Actor, name string) (parley.APIKey, string, error) {
	return parley.APIKey{}, "", errTODO
}

// APIKeys lists the API keys, revoked ones included. Admins only.
func (n *Node) APIKeys(ctx context.Context, by parley.Actor) ([]parley.APIKey, error) {
	return nil, errTODO
}

// RevokeAPIKey revokes the key id: it stops working at once. Admins only.
func (n *Node) RevokeAPIKey(ctx context.Context, by parley.Actor, id int64) (parley.APIKey, error) {
	return parley.APIKey{}, errTODO
}

var errTODO = parley.Errorf(parley.EInternal, "not implemented yet")

// Integrations: what the HTTP API offers besides moderation.

// Post stores text in room as by.Name and delivers it as any message
// (created if needed; the rules of the room hold for people, not for API
// keys and the operator). clientID makes a retry safe, as for send.
// Any authenticated actor; a person posts under their own nickname.
func (n *Node) Post(ctx context.Context, by parley.Actor, room, text, clientID string) (parley.Message, bool, error) {
	return parley.Message{}, false, errTODO
}

// RoomHistory returns a page of room's messages as the history command
// does (after > 0 wins over before), and whether there are more.
func (n *Node) RoomHistory(ctx context.Context, by parley.Actor, room string, before, after int64, limit int) ([]parley.Message, bool, error) {
	return nil, false, errTODO
}

// RoomList lists the rooms with their members online (cluster-wide) and
// settings.
func (n *Node) RoomList(ctx context.Context, by parley.Actor) ([]RoomListing, error) {
	return nil, errTODO
}

// RoomListing is a room as the API lists it.
type RoomListing struct {
	parley.Room
	Members int // people in it now, on every node
}
