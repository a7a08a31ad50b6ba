-- Nothing dropped in silence (issue 13): a message whose action was applied but some part of it was
-- not taken (a file over the size or count limit) ends "partial", with the parts it dropped and why
-- in `dropped`; a Maildir file that could not be read at all is journaled (quarantined) with no
-- bytes, so sha256 may be NULL for such a row, and `unreadable` says why.
ALTER TABLE inbound_messages DROP CONSTRAINT IF EXISTS inbound_messages_outcome_check;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_outcome_check CHECK (outcome IN ('applied', 'partial', 'quarantined', 'ignored', 'refused', 'failed'));
ALTER TABLE inbound_messages ADD COLUMN dropped jsonb;
ALTER TABLE inbound_messages ADD COLUMN unreadable text;
ALTER TABLE inbound_messages ALTER COLUMN sha256 DROP NOT NULL;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_bytes_or_unreadable CHECK (sha256 IS NOT NULL OR unreadable IS NOT NULL);
-- An unreadable Maildir file is journaled once, by its name, however many passes find it.
CREATE UNIQUE INDEX inbound_unreadable ON inbound_messages (mailbox, source_ref) WHERE sha256 IS NULL;
-- Rate limits counted apart: mail that proved it is from our staff (DKIM/DMARC) is counted apart
-- from mail that only claims the address, so forged mail cannot rate-limit the real sender.
ALTER TABLE inbound_messages ADD COLUMN authenticated boolean;
-- Jobs of a worker that died (SIGKILL) are recovered at once, not when their heartbeat runs out:
-- each worker holds a session advisory lock (class 7305, object its id) while it lives, and notes
-- the pg-boss jobs it is running; a job whose worker holds no lock any more is an orphan.
CREATE TABLE worker_sessions (
  id         serial PRIMARY KEY,
  pid        int    NOT NULL,
  host       text   NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE job_claims (
  job_id    uuid PRIMARY KEY,
  queue     text NOT NULL,
  worker_id int  NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now()
);
