-- Reply tokens with a life (issue 13): one token in circulation per record and party, refused a
-- configured number of days after it was last sent (mail.tokenDays), and revocable
-- (`dossier share revoke`). A revoked token stays refused; the next package to that party carries
-- a new one (generation + 1, a different HMAC).

CREATE TABLE reply_tokens (
  record_id   bigint NOT NULL REFERENCES records (id),
  party_id    bigint NOT NULL REFERENCES parties (id),
  -- 0: the token exactly as Dossier made it before this migration (HMAC of ref and party), so the
  -- tokens already in sent mail keep working; n > 0: HMAC of ref, party and n.
  generation  int    NOT NULL DEFAULT 0 CHECK (generation >= 0),
  issued_at   timestamptz NOT NULL DEFAULT now(),   -- the last time it was sent; expiry counts from here
  revoked_at  timestamptz,
  revoked_by  text,
  PRIMARY KEY (record_id, party_id)
);

-- Tokens already sent: generation 0, issued when the last mail to that party about that record
-- was queued (or when the party was linked, if no mail is found).
INSERT INTO reply_tokens (record_id, party_id, generation, issued_at)
SELECT rp.record_id, rp.party_id, 0, coalesce(max(o.created_at), min(rp.created_at))
  FROM record_parties rp
  LEFT JOIN outbox o ON o.record_id = rp.record_id AND o.party_id = rp.party_id
 WHERE rp.reply_token IS NOT NULL
 GROUP BY rp.record_id, rp.party_id;

-- A party's own mail domains (lower-cased): mail from any address there counts as the party's.
-- Empty (the default): only its exact addresses. Never a public provider's domain (src/inbound/party-sender.ts).
ALTER TABLE parties ADD COLUMN domains text[] NOT NULL DEFAULT '{}';
