-- Issue 17 (approvals by reply): a document of a record goes along a configured chain of
-- approvers; each is emailed in turn and answers by replying. Every step is also an audit event
-- (approval_started, approval_requested, approval_approved, approval_rejected, approval_completed,
-- approval_not_counted for a reply that does not count).
CREATE TABLE approvals (
  id            bigserial PRIMARY KEY,
  record_id     bigint NOT NULL REFERENCES records (id),
  chain         text   NOT NULL,
  attachment_id bigint NOT NULL REFERENCES attachments (id),
  status        text   NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  current_step  int    NOT NULL DEFAULT 1,
  started_by    text   NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);
CREATE INDEX approvals_record ON approvals (record_id);
-- One open approval per document and chain.
CREATE UNIQUE INDEX approvals_open ON approvals (attachment_id, chain) WHERE status = 'pending';

CREATE TABLE approval_steps (
  approval_id bigint NOT NULL REFERENCES approvals (id),
  position    int    NOT NULL,
  approver    text   NOT NULL,            -- the address, lower case
  name        text   NOT NULL DEFAULT '',
  state       text   NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'asked', 'approved', 'rejected')),
  asked_at    timestamptz,
  outbox_id   bigint REFERENCES outbox (id),
  decided_at  timestamptz,
  reason      text,
  journal_id  bigint REFERENCES inbound_messages (id),
  PRIMARY KEY (approval_id, position)
);
