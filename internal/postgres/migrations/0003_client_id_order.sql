-- The idempotency index leads with client_id instead of sender_key (as in
-- the SQLite store's 0003): the same pairs are unique, but ids that grow
-- with time (our clients' ids have a time prefix, as a UUIDv7 has) are
-- added at the end of the index instead of at a random place in each
-- sender's range, so a busy database dirties a few of its pages, not one
-- per message. The name stays: a duplicate is told by it (messages.go).
DROP INDEX messages_client_id;
CREATE UNIQUE INDEX messages_client_id ON messages (client_id, sender_key) WHERE client_id <> '';
