package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parley-chat/parley"
)

// SetPassword implements parley.AccountStore. The guest claim token ends:
// token_hash becomes '!' || nick_key, unique like the key and never a
// SHA-256 in hex. An existing user keeps its nickname, ClaimedAt and
// DMCursor: the caller has checked that the registrant is its holder (or
// claimed the nickname for them first).
func (s *Store) SetPassword(ctx context.Context, nick, passwordHash string, now time.Time) (parley.User, error) {
	if passwordHash == "" {
		return parley.User{}, parley.Errorf(parley.EInvalid, "an empty password hash")
	}
	key := parley.NickKey(nick)
	var u parley.User
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO users (nick_key, nickname, token_hash, claimed_at, last_seen, dm_cursor, password_hash)
			 VALUES (?1, ?2, '!' || ?1, ?3, ?3, (SELECT COALESCE(MAX(id), 0) FROM messages), ?4)
			 ON CONFLICT (nick_key) DO UPDATE SET token_hash = excluded.token_hash, password_hash = excluded.password_hash`,
			key, nick, millis(now), passwordHash)
		if err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE nick_key = ?`, key))
		return err
	})
	return u, wrap(err, "set the password of "+nick)
}

// Credentials implements parley.AccountStore.
func (s *Store) Credentials(ctx context.Context, nick string) (parley.Credentials, error) {
	var c parley.Credentials
	var role string
	err := s.read.QueryRowContext(ctx, `SELECT nickname, password_hash, role FROM users WHERE nick_key = ?`,
		parley.NickKey(nick)).Scan(&c.Nickname, &c.PasswordHash, &role)
	c.Role = parley.Role(role)
	return c, notFound(err, "no user is called "+nick)
}

// SetRole implements parley.AccountStore.
func (s *Store) SetRole(ctx context.Context, nick string, role parley.Role) (parley.User, error) {
	if !parley.ValidRole(role) {
		return parley.User{}, parley.Errorf(parley.EInvalid, "no role is called %q", role)
	}
	key := parley.NickKey(nick)
	var u parley.User
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		u, err = scanUser(tx.QueryRowContext(ctx,
			`UPDATE users SET role = ? WHERE nick_key = ? AND password_hash <> '' RETURNING `+userColumns, string(role), key))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE nick_key = ?`, key).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return parley.Errorf(parley.ENotFound, "no user is called %s", nick)
		}
		return parley.Errorf(parley.EInvalid, "%s is not registered: only registered users have roles", nick)
	})
	return u, wrap(err, "set the role of "+nick)
}

// Users implements parley.AccountStore.
func (s *Store) Users(ctx context.Context, after string, limit int) ([]parley.User, error) {
	return queryList(ctx, s.read, "list users", scanUser,
		`SELECT `+userColumns+` FROM users WHERE nick_key > ? ORDER BY nick_key LIMIT ?`, parley.NickKey(after), limit)
}

// AddSession implements parley.AccountStore. It also forgets the user's
// sessions that have expired (at as.CreatedAt), so that they do not pile
// up.
func (s *Store) AddSession(ctx context.Context, as parley.AuthSession) error {
	key := parley.NickKey(as.Nickname)
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE nick_key = ? AND expires_at <= ?`, key, millis(as.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, nick_key, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			as.TokenHash, key, millis(as.CreatedAt), millis(as.ExpiresAt))
		return err
	})
	return wrap(err, "add a session of "+as.Nickname)
}

// SessionUser implements parley.AccountStore.
func (s *Store) SessionUser(ctx context.Context, tokenHash string, now time.Time) (parley.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM sessions JOIN users USING (nick_key) WHERE sessions.token_hash = ? AND expires_at > ?`,
		tokenHash, millis(now)))
	return u, notFound(err, "no session has this token")
}

// DeleteSession implements parley.AccountStore.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
		return err
	})
	return wrap(err, "delete a session")
}

// DeleteSessions implements parley.AccountStore.
func (s *Store) DeleteSessions(ctx context.Context, nick, keepTokenHash string) error {
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE nick_key = ? AND token_hash <> ?`, parley.NickKey(nick), keepTokenHash)
		return err
	})
	return wrap(err, "delete the sessions of "+nick)
}

// apiKeyColumns are the columns scanAPIKey reads.
const apiKeyColumns = `id, name, prefix, hash, created_by, created_at, revoked_at`

func scanAPIKey(row scanner) (parley.APIKey, error) {
	var k parley.APIKey
	var created, revoked int64
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.CreatedBy, &created, &revoked)
	k.CreatedAt, k.RevokedAt = fromMillis(created), fromOptMillis(revoked)
	return k, err
}

// AddAPIKey implements parley.AccountStore.
func (s *Store) AddAPIKey(ctx context.Context, k parley.APIKey) (parley.APIKey, error) {
	k.CreatedAt, k.RevokedAt = fromMillis(millis(k.CreatedAt)), cutOpt(k.RevokedAt)
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx,
			`INSERT INTO api_keys (name, prefix, hash, created_by, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			k.Name, k.Prefix, k.Hash, k.CreatedBy, millis(k.CreatedAt), optMillis(k.RevokedAt)).Scan(&k.ID)
	})
	return k, wrap(err, "add API key "+k.Name)
}

// APIKeys implements parley.AccountStore.
func (s *Store) APIKeys(ctx context.Context) ([]parley.APIKey, error) {
	return queryList(ctx, s.read, "list API keys", scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
}

// APIKeyByHash implements parley.AccountStore.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (parley.APIKey, error) {
	k, err := scanAPIKey(s.read.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return k, parley.Errorf(parley.ENotFound, "no API key has this secret")
	}
	return k, wrap(err, "read API key")
}

// RevokeAPIKey implements parley.AccountStore.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64, at time.Time) (parley.APIKey, error) {
	if at.IsZero() {
		return parley.APIKey{}, parley.Errorf(parley.EInvalid, "revoking needs a time")
	}
	var k parley.APIKey
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, millis(at), id)
		if err != nil {
			return err
		}
		k, err = scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return parley.Errorf(parley.ENotFound, "no API key %d", id)
		}
		return err
	})
	return k, wrap(err, "revoke API key")
}
