-- Parley's schema on PostgreSQL. Names that are compared, ranged over or
-- sorted use the "C" collation: byte order, the same as SQLite, whatever
-- the database's locale.

-- Rooms and direct conversations ("dm:a:b"), each with its own sequence:
-- last_seq is the seq of the room's newest message, and Append takes the
-- next one by updating this row, whose lock serializes the room's writers.
CREATE TABLE rooms (
    name       text COLLATE "C" PRIMARY KEY,
    last_seq   bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    created_at timestamptz NOT NULL
);

INSERT INTO rooms (name, last_seq, created_at) VALUES ('lobby', 0, date_trunc('milliseconds', now()));

CREATE TABLE messages (
    -- From an identity sequence (CACHE 1, so numbers are handed out in
    -- increasing order to every session); never reused. See the package
    -- comment for the order in which they become visible.
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room          text COLLATE "C" NOT NULL,
    seq           bigint      NOT NULL CHECK (seq > 0),
    sender        text        NOT NULL,
    sender_key    text COLLATE "C" NOT NULL,
    recipient     text        NOT NULL DEFAULT '',
    recipient_key text COLLATE "C" NOT NULL DEFAULT '',
    text          text        NOT NULL,
    html          text        NOT NULL,
    mentions      text[]      NOT NULL DEFAULT '{}',
    client_id     text COLLATE "C" NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    CONSTRAINT messages_room_seq UNIQUE (room, seq)
);

-- client_id is an idempotency key per sender.
CREATE UNIQUE INDEX messages_client_id ON messages (sender_key, client_id) WHERE client_id <> '';
-- Direct messages waiting for their recipient.
CREATE INDEX messages_recipient ON messages (recipient_key, id) WHERE recipient_key <> '';

CREATE TABLE users (
    nick_key   text COLLATE "C" PRIMARY KEY,
    nickname   text        NOT NULL,
    token_hash text COLLATE "C" NOT NULL CONSTRAINT users_token_hash UNIQUE,
    claimed_at timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    dm_cursor  bigint      NOT NULL DEFAULT 0
);

CREATE TABLE announcements (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text       text        NOT NULL,
    html       text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
