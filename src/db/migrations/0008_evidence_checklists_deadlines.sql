-- Issue 17 (evidence helper): staff review of documents against the recipients' checklists, and the
-- fingerprints and matches that flag the same evidence attached to two records.

-- Staff's word on one attachment: accepted or rejected (with the reason), the date printed on the
-- document when it matters for "not older than N days", and the checklist category it counts as
-- (a file that came in by email is stored as "incoming" and may be the 2-НДФЛ a bank asked for).
-- Every change is also an audit event (document_accepted, document_rejected, checklist_ticked).
CREATE TABLE attachment_reviews (
  attachment_id bigint PRIMARY KEY REFERENCES attachments (id),
  state         text   NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'rejected')),
  reason        text,
  document_date date,
  counts_as     text,
  updated_by    text   NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Perceptual hashes of stored images, per blob (the same bytes are hashed once). One row per crop
-- variant (full, tl, tr, bl, br, c); the hashes are signed 64-bit integers so that
-- bit_count((a # b)::bit(64)) is their Hamming distance. kind 'none': not an image we could decode.
CREATE TABLE blob_fingerprints (
  sha256   text   NOT NULL REFERENCES blobs (sha256),
  variant  text   NOT NULL,
  dhash    bigint,
  phash    bigint,
  width    int,
  height   int,
  PRIMARY KEY (sha256, variant)
);

-- A pair of attachments on two different records that are the same file (sha256) or the same photo
-- (perceptual); a_id < b_id, found once.
CREATE TABLE evidence_matches (
  id        bigserial PRIMARY KEY,
  a_id      bigint NOT NULL REFERENCES attachments (id),
  b_id      bigint NOT NULL REFERENCES attachments (id),
  method    text   NOT NULL CHECK (method IN ('sha256', 'perceptual')),
  distance  int    NOT NULL,            -- differing bits (0 for the same file)
  found_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (a_id < b_id),
  UNIQUE (a_id, b_id)
);
CREATE INDEX evidence_matches_b ON evidence_matches (b_id);
