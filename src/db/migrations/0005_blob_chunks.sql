-- The PostgreSQL blob backend (storage.blobs: postgres): the bytes of stored files kept in the
-- database itself, so that workers on several machines sharing one PostgreSQL reach the same blobs.
-- The `blobs` table stays the catalogue for every backend (size, content type); these two tables hold
-- bytes only, and stay empty while storage.blobs is fs.

-- One row per finished content. A put writes its chunks first under an id taken from this table's
-- sequence (the sha256 is only known at the end) and inserts this row last, in the same transaction:
-- a blob is either here with all its chunks or not at all. The same content stored twice meets the
-- unique sha256 and the second copy is rolled back.
CREATE TABLE blob_contents (
  id         bigserial PRIMARY KEY,
  sha256     text   NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size       bigint NOT NULL CHECK (size >= 0),
  chunks     int    NOT NULL CHECK (chunks >= 0),   -- 0 for the empty file
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The bytes, in pieces of at most 1 MiB (read back one at a time, so a 500 MB file never sits in
-- memory). The foreign key is checked at commit because the chunks are written before their
-- blob_contents row exists; no transaction can commit chunks that belong to nothing.
CREATE TABLE blob_chunks (
  blob_id bigint NOT NULL REFERENCES blob_contents (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  seq     int    NOT NULL CHECK (seq >= 0),
  data    bytea  NOT NULL,
  PRIMARY KEY (blob_id, seq)
);
