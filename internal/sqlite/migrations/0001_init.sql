-- Rooms and direct conversations ("dm:a:b"), each with its own sequence.
CREATE TABLE rooms (
    name       TEXT PRIMARY KEY,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL -- Unix milliseconds
) WITHOUT ROWID;

INSERT INTO rooms (name, last_seq, created_at) VALUES ('lobby', 0, CAST(unixepoch('subsec') * 1000 AS INTEGER));

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    room          TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    sender        TEXT    NOT NULL,
    sender_key    TEXT    NOT NULL,
    recipient     TEXT    NOT NULL DEFAULT '',
    recipient_key TEXT    NOT NULL DEFAULT '',
    text          TEXT    NOT NULL,
    html          TEXT    NOT NULL,
    mentions      TEXT    NOT NULL DEFAULT '[]', -- JSON array
    client_id     TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    UNIQUE (room, seq)
);

-- client_id is an idempotency key per sender.
CREATE UNIQUE INDEX messages_client_id ON messages (sender_key, client_id) WHERE client_id <> '';
-- Direct messages waiting for their recipient.
CREATE INDEX messages_recipient ON messages (recipient_key, id) WHERE recipient_key <> '';

CREATE TABLE users (
    nick_key   TEXT PRIMARY KEY,
    nickname   TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    claimed_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    dm_cursor  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE announcements (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    text       TEXT    NOT NULL,
    html       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
