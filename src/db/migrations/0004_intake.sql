-- The intake journal: every incoming message, its raw bytes kept in the blob store, journaled before
-- it is processed; processing sets the outcome in the same transaction as its effects.

CREATE TABLE inbound_messages (
  id           bigserial PRIMARY KEY,
  mailbox      text   NOT NULL,              -- a configured mailbox name, "maildir", "stdin"
  uidvalidity  bigint,                       -- IMAP: the folder's UIDVALIDITY and the message UID
  uid          bigint,
  source_ref   text,                         -- maildir file name, stdin file name
  message_id   text,
  sha256       text   NOT NULL REFERENCES blobs (sha256),
  size         bigint NOT NULL,
  from_address text,
  subject      text,
  received_at  timestamptz NOT NULL DEFAULT now(),
  outcome      text CHECK (outcome IN ('applied', 'quarantined', 'ignored', 'refused', 'failed')),
  reason       text,
  record_id    bigint REFERENCES records (id),
  party_id     bigint REFERENCES parties (id),
  details      jsonb,
  attempts     int    NOT NULL DEFAULT 0,
  processed_at timestamptz
);
-- The same bytes are journaled once, wherever they came from.
CREATE UNIQUE INDEX inbound_sha256 ON inbound_messages (sha256);
CREATE UNIQUE INDEX inbound_imap ON inbound_messages (mailbox, uidvalidity, uid) WHERE uid IS NOT NULL;
CREATE INDEX inbound_pending ON inbound_messages (id) WHERE outcome IS NULL;
CREATE INDEX inbound_message_id ON inbound_messages (message_id);
CREATE INDEX inbound_from ON inbound_messages (from_address, received_at);

-- Where each mailbox was read up to, and when it last answered.
CREATE TABLE mailbox_state (
  mailbox      text PRIMARY KEY,
  uidvalidity  bigint,
  last_uid     bigint,
  last_poll_at timestamptz,
  last_ok_at   timestamptz,
  last_error   text
);

-- Text messages to clients, sent by the worker through the configured gateway (file or HTTP).
CREATE TABLE sms_outbox (
  id            bigserial PRIMARY KEY,
  record_id     bigint REFERENCES records (id),
  party_id      bigint REFERENCES parties (id),
  to_phone      text   NOT NULL,
  body          text   NOT NULL,
  status        text   NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
  attempts      int    NOT NULL DEFAULT 0,
  last_response text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz
);
CREATE INDEX sms_outbox_queued ON sms_outbox (id) WHERE status = 'queued';
