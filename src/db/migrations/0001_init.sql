-- Records, parties, attachments, blobs and the audit trail.

-- Yearly reference counters: the row lock taken by the UPDATE serialises concurrent creators, and
-- because the counter moves inside the same transaction as the record insert, a rolled-back create
-- gives its number back: no gaps, no duplicates.
CREATE TABLE ref_counters (
  prefix  text NOT NULL,
  year    int  NOT NULL,
  last    int  NOT NULL,
  PRIMARY KEY (prefix, year)
);

CREATE TABLE records (
  id             bigserial PRIMARY KEY,
  type           text NOT NULL,
  ref            text NOT NULL UNIQUE,
  year           int  NOT NULL,
  seq            int  NOT NULL,
  title          text,
  status         text NOT NULL,
  schema_version int,
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     text NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX records_type_status ON records (type, status);

CREATE TABLE parties (
  id         bigserial PRIMARY KEY,
  key        text NOT NULL UNIQUE,
  kind       text NOT NULL,
  name       text NOT NULL,
  emails     text[] NOT NULL DEFAULT '{}',   -- lower-cased
  phone      text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parties_emails ON parties USING gin (emails);

CREATE TABLE record_parties (
  record_id  bigint NOT NULL REFERENCES records (id),
  party_id   bigint NOT NULL REFERENCES parties (id),
  role       text   NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (record_id, party_id, role)
);

-- Content-addressed store: one row per distinct content, the bytes in the blob backend.
CREATE TABLE blobs (
  sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size         bigint NOT NULL,
  content_type text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE attachments (
  id           bigserial PRIMARY KEY,
  record_id    bigint NOT NULL REFERENCES records (id),
  category     text   NOT NULL,
  file_name    text   NOT NULL,
  content_type text   NOT NULL,
  size         bigint NOT NULL,
  sha256       text   NOT NULL REFERENCES blobs (sha256),
  source       text   NOT NULL,            -- cli, message, import
  created_by   text   NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_record ON attachments (record_id);

-- The audit trail: one row per change, never updated or deleted.
CREATE TABLE events (
  id         bigserial PRIMARY KEY,
  record_id  bigint REFERENCES records (id),
  party_id   bigint REFERENCES parties (id),
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,                -- e.g. cli:anna, message:<id>, import:parties.csv
  source     text NOT NULL,                -- cli, message, import, worker
  kind       text NOT NULL,                -- record_created, status_changed, party_linked, …
  field      text,
  old_value  jsonb,
  new_value  jsonb,
  details    jsonb
);
CREATE INDEX events_record ON events (record_id, id);
CREATE INDEX events_party ON events (party_id, id);
