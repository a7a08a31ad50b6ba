-- Issue 15: a package email refers to the zip already in the blob store instead of carrying a
-- base64 copy of it. Such a row keeps the message without its attachments (headers and text, in
-- `message`) and the stored files it attaches (outbox_attachments); the worker streams them into
-- the message when it sends. Other mail keeps its whole bytes in raw_sha256 as before.
-- sent_sha256 and size are what went out at the last attempt (the same bytes every time: the
-- message's date and MIME boundaries are fixed when it is queued).
ALTER TABLE outbox ALTER COLUMN raw_sha256 DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN message jsonb;
ALTER TABLE outbox ADD COLUMN sent_sha256 text;
ALTER TABLE outbox ADD CONSTRAINT outbox_raw_or_message CHECK ((raw_sha256 IS NULL) <> (message IS NULL));

CREATE TABLE outbox_attachments (
  outbox_id    bigint NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
  seq          int    NOT NULL,
  sha256       text   NOT NULL REFERENCES blobs (sha256),
  size         bigint NOT NULL,
  file_name    text   NOT NULL,
  content_type text,                                -- null: taken from the file name
  PRIMARY KEY (outbox_id, seq)
);
