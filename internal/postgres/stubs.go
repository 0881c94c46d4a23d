package postgres

// Placeholders for the account and moderation store (issue 8), replaced by
// the real implementations in accounts.go and moderation.go.

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
)

var errTODO = parley.Errorf(parley.EInternal, "not implemented yet")

func (s *Store) Announcements(ctx context.Context, now time.Time) ([]parley.Announcement, error) {
	return nil, errTODO
}
func (s *Store) DeleteAnnouncement(ctx context.Context, id int64) (parley.Announcement, error) {
	return parley.Announcement{}, errTODO
}
func (s *Store) SetPassword(ctx context.Context, nick, passwordHash string, now time.Time) (parley.User, error) {
	return parley.User{}, errTODO
}
func (s *Store) Credentials(ctx context.Context, nick string) (parley.Credentials, error) {
	return parley.Credentials{}, errTODO
}
func (s *Store) SetRole(ctx context.Context, nick string, role parley.Role) (parley.User, error) {
	return parley.User{}, errTODO
}
func (s *Store) Users(ctx context.Context, after string, limit int) ([]parley.User, error) {
	return nil, errTODO
}
func (s *Store) AddSession(ctx context.Context, as parley.AuthSession) error { return errTODO }
func (s *Store) SessionUser(ctx context.Context, tokenHash string, now time.Time) (parley.User, error) {
	return parley.User{}, errTODO
}
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error            { return errTODO }
func (s *Store) DeleteSessions(ctx context.Context, nick, keepTokenHash string) error { return errTODO }
func (s *Store) AddAPIKey(ctx context.Context, k parley.APIKey) (parley.APIKey, error) {
	return parley.APIKey{}, errTODO
}
func (s *Store) APIKeys(ctx context.Context) ([]parley.APIKey, error) { return nil, errTODO }
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (parley.APIKey, error) {
	return parley.APIKey{}, errTODO
}
func (s *Store) RevokeAPIKey(ctx context.Context, id int64, at time.Time) (parley.APIKey, error) {
	return parley.APIKey{}, errTODO
}
func (s *Store) AddBan(ctx context.Context, b parley.Ban) (parley.Ban, error) {
	return parley.Ban{}, errTODO
}
func (s *Store) DeleteBan(ctx context.Context, id int64) (parley.Ban, error) {
	return parley.Ban{}, errTODO
}
func (s *Store) Bans(ctx context.Context, now time.Time) ([]parley.Ban, error) { return nil, errTODO }
func (s *Store) AddMute(ctx context.Context, m parley.Mute) (parley.Mute, error) {
	return parley.Mute{}, errTODO
}
func (s *Store) DeleteMute(ctx context.Context, room, nick string) error         { return errTODO }
func (s *Store) Mutes(ctx context.Context, now time.Time) ([]parley.Mute, error) { return nil, errTODO }
func (s *Store) SetSlowMode(ctx context.Context, room string, every time.Duration) (parley.Room, error) {
	return parley.Room{}, errTODO
}
func (s *Store) DeleteMessage(ctx context.Context, room string, seq int64, by string) (parley.Message, error) {
	return parley.Message{}, errTODO
}
func (s *Store) LogAction(ctx context.Context, a parley.Action) (parley.Action, error) {
	return parley.Action{}, errTODO
}
func (s *Store) Actions(ctx context.Context, before int64, limit int) ([]parley.Action, error) {
	return nil, errTODO
}
