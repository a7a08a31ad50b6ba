import { buffer } from 'node:stream/consumers';
import type { Actor } from '../app.js';
import type { Queryable } from '../db/pool.js';
import { recordEvent } from '../records/events.js';
import type { BlobStore } from '../storage/blobs.js';
import { fingerprintImage, HASH_BITS, hashToInt8, IMAGE_TYPES, NEAR_DUPLICATE_MAX_DISTANCE } from './phash.js';

// Reused evidence: the same file (sha256), or the same photo resized, recompressed or slightly
// cropped (perceptual hashes, phash.ts), attached to two different records — the reused-photo fraud
// signal of claims. Checked when an attachment is stored; each pair found once (evidence_matches),
// with an `evidence_reused` audit event on both records.

/** What the check needs of an attachment row (records/attachments.ts and the intake's rows alike). */
export interface StoredAttachment { id: number; record_id: number; sha256: string; content_type: string; size: number }

export interface EvidenceSide { attachment: number; ref: string; file: string; category: string }
export interface EvidenceMatch { id: number; method: 'sha256' | 'perceptual'; distance: number; similarity: number; foundAt: Date; a: EvidenceSide; b: EvidenceSide }

/** Photos larger than this are not decoded for a fingerprint (the exact-file check still applies). */
const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

export const similarityOf = (method: string, distance: number): number => (method === 'sha256' ? 1 : Math.round((1 - distance / HASH_BITS) * 1000) / 1000);

/** Hashes the blob once (all variants, or a 'none' row when it is not a decodable image). */
async function ensureFingerprint(q: Queryable, blobs: BlobStore, a: StoredAttachment): Promise<boolean> {
  const have = await q.query<{ dhash: string | null }>('SELECT dhash FROM blob_fingerprints WHERE sha256 = $1 LIMIT 1', [a.sha256]);
  if (have.rows[0]) return have.rows[0].dhash !== null;
  const fp = IMAGE_TYPES.has(a.content_type) && a.size <= MAX_IMAGE_BYTES ? await fingerprintImage(await buffer(await blobs.open(a.sha256))) : null;
  if (!fp) {
    await q.query(`INSERT INTO blob_fingerprints (sha256, variant) VALUES ($1, 'none') ON CONFLICT DO NOTHING`, [a.sha256]);
    return false;
  }
  for (const h of fp.hashes) {
    await q.query('INSERT INTO blob_fingerprints (sha256, variant, dhash, phash, width, height) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING', [a.sha256, h.variant, hashToInt8(h.dhash), hashToInt8(h.phash), fp.width, fp.height]);
  }
  return true;
}

/**
 * The attach path's entry point: call it after the attachments' rows are committed (attachFiles
 * does; the intake action should for the files a message brings). Returns the new pairs found.
 * A file that is not an image, or not a decodable one, is still checked by its sha256.
 */
export async function flagReusedEvidence(q: Queryable, blobs: BlobStore, actor: Actor, attachments: StoredAttachment[], opts: { maxDistance?: number } = {}): Promise<EvidenceMatch[]> {
  const maxDistance = opts.maxDistance ?? NEAR_DUPLICATE_MAX_DISTANCE;
  const found: EvidenceMatch[] = [];
  for (const a of attachments) {
    const candidates: { other: number; method: 'sha256' | 'perceptual'; distance: number }[] = (
      await q.query<{ other: number }>('SELECT id::int AS other FROM attachments WHERE sha256 = $1 AND record_id <> $2', [a.sha256, a.record_id])
    ).rows.map((r) => ({ other: r.other, method: 'sha256' as const, distance: 0 }));
    if (await ensureFingerprint(q, blobs, a)) {
      // Any crop of one against the whole of the other; the distance is both hashes' differing bits together.
      const near = await q.query<{ other: number; distance: number }>(
        `WITH mine AS (SELECT variant, dhash, phash FROM blob_fingerprints WHERE sha256 = $1 AND dhash IS NOT NULL),
         d AS (
           SELECT f.sha256, min(bit_count((m.dhash # f.dhash)::bit(64)) + bit_count((m.phash # f.phash)::bit(64)))::int AS distance
           FROM mine m JOIN blob_fingerprints f ON f.sha256 <> $1 AND f.dhash IS NOT NULL AND (m.variant = 'full' OR f.variant = 'full')
           GROUP BY f.sha256)
         SELECT at.id::int AS other, d.distance FROM d JOIN attachments at ON at.sha256 = d.sha256 AND at.record_id <> $2
         WHERE d.distance <= $3`,
        [a.sha256, a.record_id, maxDistance],
      );
      for (const r of near.rows) candidates.push({ other: r.other, method: 'perceptual', distance: r.distance });
    }
    for (const c of candidates) {
      const [lo, hi] = a.id < c.other ? [a.id, c.other] : [c.other, a.id];
      const row = (await q.query<{ id: number }>('INSERT INTO evidence_matches (a_id, b_id, method, distance) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id::int', [lo, hi, c.method, c.distance])).rows[0];
      if (!row) continue;
      const [m] = await listEvidence(q, { matchId: row.id });
      if (!m) continue;
      for (const [mine, theirs] of [[m.a, m.b], [m.b, m.a]] as const) {
        const rec = (await q.query<{ record_id: number }>('SELECT record_id::int FROM attachments WHERE id = $1', [mine.attachment])).rows[0]!;
        await recordEvent(q, actor, {
          recordId: rec.record_id,
          kind: 'evidence_reused',
          field: `attachment:${mine.attachment}`,
          newValue: { match: m.id, method: m.method, similarity: m.similarity, file: mine.file, other: { ref: theirs.ref, attachment: theirs.attachment, file: theirs.file } },
        });
      }
      found.push(m);
    }
  }
  return found;
}

/** The pairs found so far: all, those touching one record, or one. */
export async function listEvidence(q: Queryable, filter: { recordId?: number; matchId?: number } = {}): Promise<EvidenceMatch[]> {
  const rows = await q.query<{ id: number; method: 'sha256' | 'perceptual'; distance: number; found_at: Date; a_id: number; a_ref: string; a_file: string; a_cat: string; b_id: number; b_ref: string; b_file: string; b_cat: string }>(
    `SELECT m.id::int, m.method, m.distance, m.found_at,
            a.id::int AS a_id, ra.ref AS a_ref, a.file_name AS a_file, a.category AS a_cat,
            b.id::int AS b_id, rb.ref AS b_ref, b.file_name AS b_file, b.category AS b_cat
     FROM evidence_matches m
     JOIN attachments a ON a.id = m.a_id JOIN records ra ON ra.id = a.record_id
     JOIN attachments b ON b.id = m.b_id JOIN records rb ON rb.id = b.record_id
     WHERE ($1::bigint IS NULL OR a.record_id = $1 OR b.record_id = $1) AND ($2::bigint IS NULL OR m.id = $2)
     ORDER BY m.id`,
    [filter.recordId ?? null, filter.matchId ?? null],
  );
  return rows.rows.map((r) => ({
    id: r.id,
    method: r.method,
    distance: r.distance,
    similarity: similarityOf(r.method, r.distance),
    foundAt: r.found_at,
    a: { attachment: r.a_id, ref: r.a_ref, file: r.a_file, category: r.a_cat },
    b: { attachment: r.b_id, ref: r.b_ref, file: r.b_file, category: r.b_cat },
  }));
}

/** Checks every stored attachment again (those stored before the check existed, or by a path that does not call it yet). */
export async function scanAllEvidence(q: Queryable, blobs: BlobStore, actor: Actor): Promise<{ checked: number; found: EvidenceMatch[] }> {
  const all = (await q.query<StoredAttachment>('SELECT id::int, record_id::int, sha256, content_type, size::int FROM attachments ORDER BY id')).rows;
  return { checked: all.length, found: await flagReusedEvidence(q, blobs, actor, all) };
}

/** For `record show`: one line per pair touching the record, from its side. */
export function describeReuse(ref: string, matches: EvidenceMatch[]): string[] {
  return matches.map((m) => {
    const [mine, theirs] = m.a.ref === ref ? [m.a, m.b] : [m.b, m.a];
    const how = m.method === 'sha256' ? 'the same file' : `a near-identical photo (${Math.round(m.similarity * 100)}% similar)`;
    return `  ! #${mine.attachment} ${mine.file} is ${how} as #${theirs.attachment} ${theirs.file} on ${theirs.ref}`;
  });
}
