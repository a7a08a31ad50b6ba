-- Document packages built for recipients, and the outbox of every email Dossier sends.

-- Values Dossier generates once and keeps (the reply-token secret when none is configured).
CREATE TABLE settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per zip built (a package too big for one email has several parts, one row each).
CREATE TABLE packages (
  id          bigserial PRIMARY KEY,
  record_id   bigint NOT NULL REFERENCES records (id),
  party_id    bigint NOT NULL REFERENCES parties (id),
  build_id    text   NOT NULL,        -- the parts of one build share it
  part        int    NOT NULL,
  parts       int    NOT NULL,
  file_name   text   NOT NULL,
  sha256      text   NOT NULL REFERENCES blobs (sha256),
  size        bigint NOT NULL,
  manifest    jsonb  NOT NULL,
  created_by  text   NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX packages_record ON packages (record_id, id);

-- One row per email. The raw message is built once and kept in the blob store, so that a retry,
-- even after a crash between sending and recording, sends the very same bytes and Message-ID.
CREATE TABLE outbox (
  id             bigserial PRIMARY KEY,
  record_id      bigint REFERENCES records (id),
  party_id       bigint REFERENCES parties (id),
  package_id     bigint REFERENCES packages (id),
  kind           text   NOT NULL,                 -- package, notification, confirmation, acknowledgement
  message_id     text   NOT NULL UNIQUE,
  from_address   text   NOT NULL,
  to_addresses   text[] NOT NULL,
  subject        text   NOT NULL,
  raw_sha256     text   NOT NULL REFERENCES blobs (sha256),
  size           bigint NOT NULL,
  status         text   NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'bounced')),
  attempts       int    NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_response  text,
  transport      text,
  created_by     text   NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  sent_at        timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_status ON outbox (status, id);
CREATE INDEX outbox_record ON outbox (record_id, id);

-- The reply token a party was given for a record (kept so staff can see it; verification recomputes it).
ALTER TABLE record_parties ADD COLUMN reply_token text;
