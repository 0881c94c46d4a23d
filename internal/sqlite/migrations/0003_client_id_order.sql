-- The idempotency index leads with client_id instead of sender_key. The
-- same pairs are unique either way; the order decides where a new entry
-- goes. Under sender_key first, every sender has a range of the index and
-- a new client_id lands at a random place in it: nearly every message
-- dirtied a page of its own, written to the WAL at commit and again at
-- checkpoint. Clients that make ids that grow with time (ours: a time
-- prefix, as a UUIDv7 has) now append at the end of one index: a commit
-- of hundreds of messages writes a few pages of it. Random ids cost what
-- they did before.
DROP INDEX messages_client_id;
CREATE UNIQUE INDEX messages_client_id ON messages (client_id, sender_key) WHERE client_id <> '';
