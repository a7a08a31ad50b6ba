-- The portal (issue 18): staff who sign in to the read-only pages, and the journal of what outside
-- parties send through their links (files and messages), written before the bytes are taken in and
-- closed with the outcome — as the intake journal does for mail.

CREATE TABLE staff_users (
  login         text PRIMARY KEY,
  name          text,
  -- scrypt$N$r$p$<salt base64>$<hash base64> (node:crypto); never the password itself
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE portal_journal (
  id            bigserial PRIMARY KEY,
  record_id     bigint NOT NULL REFERENCES records (id),
  party_id      bigint NOT NULL REFERENCES parties (id),
  kind          text   NOT NULL CHECK (kind IN ('file', 'message')),
  received_at   timestamptz NOT NULL DEFAULT now(),
  original_name text,                 -- as the browser sent it
  file_name     text,                 -- made safe
  content_type  text,                 -- sniffed from the bytes
  size          bigint,
  sha256        text,
  attachment_id bigint REFERENCES attachments (id),
  outcome       text CHECK (outcome IN ('applied', 'refused', 'failed')),
  reason        text,
  processed_at  timestamptz
);
CREATE INDEX portal_journal_record ON portal_journal (record_id, id);
CREATE INDEX portal_journal_pending ON portal_journal (id) WHERE outcome IS NULL;
