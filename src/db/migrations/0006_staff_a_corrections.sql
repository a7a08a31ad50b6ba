-- Corrections by staff (issue 16): a detached attachment leaves the record but keeps its row, its
-- blob and its history; an attachment kept with --force although no package email could carry it;
-- a queued email cancelled before it was sent.
ALTER TABLE attachments ADD COLUMN detached_at timestamptz;
ALTER TABLE attachments ADD COLUMN detached_by text;
ALTER TABLE attachments ADD COLUMN oversize_forced boolean NOT NULL DEFAULT false;

ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'bounced', 'cancelled'));

-- The package profile a party gets when neither its key nor its kind has one (templates/<profile>/).
ALTER TABLE parties ADD COLUMN profile text;
