-- Versioned field schemas and the values typed into records.

-- A published schema version: its file's checksum (the file may never change again) and the parsed
-- definition, kept so that what a record was made with can always be read back.
CREATE TABLE schema_versions (
  type         text NOT NULL,
  version      int  NOT NULL,
  sha256       text NOT NULL,
  definition   jsonb NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now(),
  published_by text NOT NULL,
  PRIMARY KEY (type, version)
);

-- One row per record, section and field: party_id NULL is the base section, a party's id is that
-- recipient's section (an override, or a recipient-only field). Values are never deleted by a
-- schema change; clearing a value deletes its row and the events keep what it was.
CREATE TABLE field_values (
  id             bigserial PRIMARY KEY,
  record_id      bigint NOT NULL REFERENCES records (id),
  party_id       bigint REFERENCES parties (id),
  field_id       text   NOT NULL,
  value          jsonb  NOT NULL,
  schema_version int    NOT NULL,      -- the record's version when the value was set
  set_at         timestamptz NOT NULL DEFAULT now(),
  set_by         text   NOT NULL,      -- actor id
  source         text   NOT NULL,      -- cli, import, message
  origin         text                  -- file name, message id: where the value came from
);
CREATE UNIQUE INDEX field_values_cell ON field_values (record_id, COALESCE(party_id, 0), field_id);
CREATE INDEX field_values_field ON field_values (field_id);
