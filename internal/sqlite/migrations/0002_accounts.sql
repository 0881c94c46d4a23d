-- Accounts, moderation and managed announcements (issue 8). Times are Unix
-- milliseconds; 0 in an optional time (expires_at, revoked_at) means none.
-- Every column added to an existing table has a constant default: SQLite
-- adds it without rewriting the table, and the prepared INSERT of the
-- message path stays as it is.

-- A registered user has a password_hash (a PHC string); a guest has ''.
-- Registering replaces token_hash by '!' || nick_key, which no claim token
-- (a SHA-256 in hex) can equal: the guest claim token ends.
ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN role          TEXT NOT NULL DEFAULT ''; -- parley.Role
ALTER TABLE users ADD COLUMN last_ip       TEXT NOT NULL DEFAULT '';

-- Login sessions of registered users, by the SHA-256 of their token.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    nick_key   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_nick_key ON sessions (nick_key);

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    prefix     TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    created_by TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
);

-- Bans; a lifted ban is deleted (the action log keeps the story).
CREATE TABLE bans (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL, -- parley.BanKind
    value      TEXT    NOT NULL, -- a NickKey, an address or a prefix
    nickname   TEXT    NOT NULL DEFAULT '',
    reason     TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0
);

-- Bans in force: expires_at = 0 or in the future.
CREATE INDEX bans_expires_at ON bans (expires_at);

-- At most one mute per person and room.
CREATE TABLE mutes (
    room       TEXT    NOT NULL,
    nick_key   TEXT    NOT NULL,
    nickname   TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room, nick_key)
) WITHOUT ROWID;

ALTER TABLE rooms ADD COLUMN slow_mode_ms INTEGER NOT NULL DEFAULT 0;

-- Tombstones: a deleted message keeps its row (id, room, seq, sender,
-- client_id, created_at) with text, html and mentions emptied.
ALTER TABLE messages ADD COLUMN deleted    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN deleted_by TEXT    NOT NULL DEFAULT '';

ALTER TABLE announcements ADD COLUMN starts_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE announcements ADD COLUMN actor     TEXT    NOT NULL DEFAULT '';
UPDATE announcements SET starts_at = created_at;

-- The moderation log.
CREATE TABLE actions (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    kind   TEXT    NOT NULL, -- parley.ActionKind
    target TEXT    NOT NULL DEFAULT '',
    room   TEXT    NOT NULL DEFAULT '',
    detail TEXT    NOT NULL DEFAULT ''
);
