package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
)

// SetPassword implements parley.AccountStore. The guest claim token ends:
// token_hash becomes '!' || nick_key, unique like the key and never a
// SHA-256 in hex. An existing user keeps its nickname, ClaimedAt and
// DMCursor: the caller has checked that the registrant is its holder (or
// claimed the nickname for them first). A new user's DMCursor is read
// under the person's advisory lock, as in ClaimNickname.
func (s *Store) SetPassword(ctx context.Context, nick, passwordHash string, now time.Time) (parley.User, error) {
	if s.closed.Load() {
		return parley.User{}, errClosed
	}
	if passwordHash == "" {
		return parley.User{}, parley.Errorf(parley.EInvalid, "an empty password hash")
	}
	key := parley.NickKey(nick)
	var u parley.User
	err := s.do(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, $2::int4)`, personLockSpace, personLock(key)); err != nil {
				return err
			}
			var err error
			u, err = scanUser(tx.QueryRow(ctx,
				`INSERT INTO users AS u (nick_key, nickname, token_hash, claimed_at, last_seen, dm_cursor, password_hash)
				 VALUES ($1, $2, '!' || $1, $3, $3, (SELECT COALESCE(MAX(id), 0) FROM messages), $4)
				 ON CONFLICT (nick_key) DO UPDATE SET token_hash = excluded.token_hash, password_hash = excluded.password_hash
				 RETURNING `+userColumns, key, nick, ms(now), passwordHash))
			return err
		})
	})
	return u, s.wrap(err, "set the password of "+nick)
}

// Credentials implements parley.AccountStore.
func (s *Store) Credentials(ctx context.Context, nick string) (parley.Credentials, error) {
	return queryOne(ctx, s, true, "read the credentials of "+nick, "no user is called "+nick,
		func(row pgx.Row) (parley.Credentials, error) {
			var c parley.Credentials
			var role string
			err := row.Scan(&c.Nickname, &c.PasswordHash, &role)
			c.Role = parley.Role(role)
			return c, err
		}, `SELECT nickname, password_hash, role FROM users WHERE nick_key = $1`, parley.NickKey(nick))
}

// SetRole implements parley.AccountStore.
func (s *Store) SetRole(ctx context.Context, nick string, role parley.Role) (parley.User, error) {
	if s.closed.Load() {
		return parley.User{}, errClosed
	}
	if !parley.ValidRole(role) {
		return parley.User{}, parley.Errorf(parley.EInvalid, "no role is called %q", role)
	}
	key := parley.NickKey(nick)
	var u parley.User
	err := s.do(ctx, func() error {
		var err error
		u, err = scanUser(s.pool.QueryRow(ctx,
			`UPDATE users SET role = $2 WHERE nick_key = $1 AND password_hash <> '' RETURNING `+userColumns, key, string(role)))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM users WHERE nick_key = $1)`, key).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return parley.Errorf(parley.ENotFound, "no user is called %s", nick)
		}
		return parley.Errorf(parley.EInvalid, "%s is not registered: only registered users have roles", nick)
	})
	return u, s.wrap(err, "set the role of "+nick)
}

// Users implements parley.AccountStore.
func (s *Store) Users(ctx context.Context, after string, limit int) ([]parley.User, error) {
	return queryList(ctx, s, "list users", scanUser,
		`SELECT `+userColumns+` FROM users WHERE nick_key > $1 ORDER BY nick_key LIMIT $2`, parley.NickKey(after), sqlLimit(limit))
}

// AddSession implements parley.AccountStore. It also forgets the user's
// sessions that have expired (at as.CreatedAt), so that they do not pile
// up. Storing the same session again changes nothing (so it is retried).
func (s *Store) AddSession(ctx context.Context, as parley.AuthSession) error {
	_, err := s.exec(ctx, "add a session of "+as.Nickname,
		`WITH gone AS (DELETE FROM sessions WHERE nick_key = $2 AND expires_at <= $3)
		 INSERT INTO sessions (token_hash, nick_key, created_at, expires_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (token_hash) DO NOTHING`,
		as.TokenHash, parley.NickKey(as.Nickname), ms(as.CreatedAt), ms(as.ExpiresAt))
	return err
}

// SessionUser implements parley.AccountStore.
func (s *Store) SessionUser(ctx context.Context, tokenHash string, now time.Time) (parley.User, error) {
	return queryOne(ctx, s, true, "read a session", "no session has this token", scanUser,
		`SELECT `+userColumns+` FROM sessions JOIN users USING (nick_key) WHERE sessions.token_hash = $1 AND expires_at > $2`,
		tokenHash, ms(now))
}

// DeleteSession implements parley.AccountStore.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.exec(ctx, "delete a session", `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return err
}

// DeleteSessions implements parley.AccountStore.
func (s *Store) DeleteSessions(ctx context.Context, nick, keepTokenHash string) error {
	_, err := s.exec(ctx, "delete the sessions of "+nick,
		`DELETE FROM sessions WHERE nick_key = $1 AND token_hash <> $2`, parley.NickKey(nick), keepTokenHash)
	return err
}

// apiKeyColumns are the columns scanAPIKey reads.
const apiKeyColumns = `id, name, prefix, hash, created_by, created_at, revoked_at`

func scanAPIKey(row pgx.Row) (parley.APIKey, error) {
	var k parley.APIKey
	var revoked *time.Time
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.CreatedBy, &k.CreatedAt, &revoked)
	k.CreatedAt, k.RevokedAt = k.CreatedAt.UTC(), fromOptTime(revoked)
	return k, err
}

// AddAPIKey implements parley.AccountStore. It is not retried (see do).
func (s *Store) AddAPIKey(ctx context.Context, k parley.APIKey) (parley.APIKey, error) {
	return queryOne(ctx, s, false, "add API key "+k.Name, "", scanAPIKey,
		`INSERT INTO api_keys (name, prefix, hash, created_by, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)
		 RETURNING `+apiKeyColumns,
		k.Name, k.Prefix, k.Hash, k.CreatedBy, ms(k.CreatedAt), optTime(k.RevokedAt))
}

// APIKeys implements parley.AccountStore.
func (s *Store) APIKeys(ctx context.Context) ([]parley.APIKey, error) {
	return queryList(ctx, s, "list API keys", scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
}

// APIKeyByHash implements parley.AccountStore.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (parley.APIKey, error) {
	return queryOne(ctx, s, true, "read API key", "no API key has this secret", scanAPIKey,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash)
}

// RevokeAPIKey implements parley.AccountStore.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64, at time.Time) (parley.APIKey, error) {
	if at.IsZero() {
		return parley.APIKey{}, parley.Errorf(parley.EInvalid, "revoking needs a time")
	}
	return queryOne(ctx, s, true, fmt.Sprintf("revoke API key %d", id), fmt.Sprintf("no API key %d", id), scanAPIKey,
		`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING `+apiKeyColumns, id, ms(at))
}
