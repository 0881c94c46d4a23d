-- Accounts, moderation and managed announcements (issue 8). An optional
-- time (expires_at, revoked_at) is NULL when there is none. Columns added
-- to existing tables have constant defaults: PostgreSQL adds them without
-- rewriting the table, and Append's INSERT stays as it is.

-- A registered user has a password_hash (a PHC string); a guest has ''.
-- Registering replaces token_hash by '!' || nick_key, which no claim token
-- (a SHA-256 in hex) can equal: the guest claim token ends.
ALTER TABLE users
    ADD COLUMN password_hash text NOT NULL DEFAULT '',
    ADD COLUMN role          text NOT NULL DEFAULT '', -- parley.Role
    ADD COLUMN last_ip       text NOT NULL DEFAULT '';

-- Login sessions of registered users, by the SHA-256 of their token.
CREATE TABLE sessions (
    token_hash text COLLATE "C" PRIMARY KEY,
    nick_key   text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_nick_key ON sessions (nick_key);

CREATE TABLE api_keys (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL,
    prefix     text        NOT NULL,
    hash       text COLLATE "C" NOT NULL CONSTRAINT api_keys_hash UNIQUE,
    created_by text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- Bans; a lifted ban is deleted (the action log keeps the story).
CREATE TABLE bans (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text        NOT NULL, -- parley.BanKind
    value      text        NOT NULL, -- a NickKey, an address or a prefix
    nickname   text        NOT NULL DEFAULT '',
    reason     text        NOT NULL DEFAULT '',
    actor      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz
);

-- Bans in force: expires_at NULL or in the future.
CREATE INDEX bans_expires_at ON bans (expires_at);

-- At most one mute per person and room.
CREATE TABLE mutes (
    room       text COLLATE "C" NOT NULL,
    nick_key   text COLLATE "C" NOT NULL,
    nickname   text        NOT NULL,
    reason     text        NOT NULL DEFAULT '',
    actor      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (room, nick_key)
);

ALTER TABLE rooms ADD COLUMN slow_mode_ms bigint NOT NULL DEFAULT 0 CHECK (slow_mode_ms >= 0);

-- Tombstones: a deleted message keeps its row (id, room, seq, sender,
-- client_id, created_at) with text, html and mentions emptied.
ALTER TABLE messages
    ADD COLUMN deleted    boolean NOT NULL DEFAULT false,
    ADD COLUMN deleted_by text    NOT NULL DEFAULT '';

ALTER TABLE announcements
    ADD COLUMN starts_at timestamptz,
    ADD COLUMN actor     text NOT NULL DEFAULT '';
UPDATE announcements SET starts_at = created_at;
ALTER TABLE announcements ALTER COLUMN starts_at SET NOT NULL;

-- The moderation log.
CREATE TABLE actions (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     timestamptz NOT NULL,
    actor  text        NOT NULL,
    kind   text        NOT NULL, -- parley.ActionKind
    target text        NOT NULL DEFAULT '',
    room   text        NOT NULL DEFAULT '',
    detail text        NOT NULL DEFAULT ''
);
