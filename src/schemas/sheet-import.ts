import path from 'node:path';
import type { Actor, App } from '../app.js';
import { withTransaction, type DbClient } from '../db/pool.js';
import { formatRef, normaliseRef, recordType } from '../records/records.js';
import type { BulkFormat } from './bulk-format.js';
import { sameValue } from './same.js';
import { colName, empty, fail, handleUnknown, mapHeader, readSheet, type ImportOptions } from './sheet.js';
import type { FieldDef, FieldValue, SchemaVersion } from './types.js';
import { parseFieldValue } from './values.js';

// Records from a CSV or XLSX sheet, one row a record, fast enough for a bank's 1,000 deals × 365
// fields (one row at a time took 24 minutes: ~730,000 single-row statements). The order:
//   1. read the whole file and check every cell in memory: one problem anywhere imports nothing,
//      and every problem is listed with its row and column;
//   2. take the reference numbers of the new rows as one block, in a statement of its own, so the
//      counter's row lock is held for a moment and a colleague's `record create` never waits for us;
//   3. write everything in one transaction with multi-row statements (INSERT … SELECT FROM unnest
//      of one array a column: one round trip and one plan for thousands of rows).
// A row whose ref column names an existing record updates that record (re-importing an exported
// file changes what was edited and duplicates nothing). Empty cells change nothing.

/** Rows a statement: unnest of arrays has no parameter limit, but a few thousand keep memory flat. */
const CHUNK = 5000;

export interface ImportedRow { ref: string; values: number; parties: string[]; updated?: boolean }

interface PlannedRow {
  line: number;
  /** Set for a row that updates an existing record. */
  existing: { id: number; ref: string; title: string | null; schema_version: number } | null;
  title: string | undefined;
  values: { field: FieldDef; value: FieldValue }[];
}

export async function importSheetRecords(app: App, importer: Actor, type: string, file: string, format: Exclude<BulkFormat, 'json'>, newest: number, opts: ImportOptions): Promise<ImportedRow[]> {
  const origin = path.basename(file);
  const sheet = await readSheet(file, format, opts);
  const schema = await app.schemas.published(type, newest);
  const header = mapHeader(schema, sheet.header, format, ['title', 'ref', 'status', 'schema_version']);
  handleUnknown(file, header, opts);
  if (header.problems.length) fail(file, header.problems);
  const { map } = header;
  const refCol = map.indexOf('ref');
  const titleCol = map.indexOf('title');

  // ---- 1. check every row --------------------------------------------------------------------------
  const problems: string[] = [];
  const refs = new Map<number, string>();
  const firstLine = new Map<string, number>();
  if (refCol >= 0) {
    for (const row of sheet.rows) {
      const raw = row.cells[refCol];
      if (empty(raw)) continue;
      try {
        const ref = normaliseRef(String(raw));
        const prior = firstLine.get(ref);
        if (prior !== undefined) problems.push(`row ${row.line}, ${colName(refCol, format)}: ${ref} is already on row ${prior}`);
        firstLine.set(ref, row.line);
        refs.set(row.line, ref);
      } catch (err) {
        problems.push(`row ${row.line}, ${colName(refCol, format)}: ${(err as Error).message}`);
      }
    }
  }
  const existing = new Map(
    (
      await app.db.query<{ id: number; ref: string; type: string; title: string | null; schema_version: number | null }>(
        'SELECT id, ref, type, title, schema_version FROM records WHERE ref = ANY($1)',
        [[...refs.values()]],
      )
    ).rows.map((r) => [r.ref, r]),
  );
  const schemas = new Map<number, SchemaVersion>([[newest, schema]]);
  for (const r of existing.values()) if (r.schema_version !== null && !schemas.has(r.schema_version)) schemas.set(r.schema_version, await app.schemas.published(type, r.schema_version));

  const planned: PlannedRow[] = [];
  sheet.rows.forEach((row, n) => {
    const where = `row ${row.line}`;
    const ref = refs.get(row.line);
    let target: PlannedRow['existing'] = null;
    let rowSchema = schema;
    if (ref) {
      const r = existing.get(ref);
      if (!r) problems.push(`${where}, ${colName(refCol, format)}: there is no record ${ref} (clear the cell to create a new record)`);
      else if (r.type !== type) problems.push(`${where}, ${colName(refCol, format)}: ${ref} is a ${r.type}, not a ${type}`);
      else if (r.schema_version === null) problems.push(`${where}, ${colName(refCol, format)}: ${ref} has no field schema yet (dossier record migrate ${ref} --to v${newest})`);
      else {
        target = { id: r.id, ref: r.ref, title: r.title, schema_version: r.schema_version };
        rowSchema = schemas.get(r.schema_version)!;
      }
    }
    const values: PlannedRow['values'] = [];
    map.forEach((m, i) => {
      if (!m || typeof m === 'string') return;
      const raw = row.cells[i];
      if (empty(raw)) return;
      const at = `${where}, ${colName(i, format)}: ${m.id}`;
      const f = rowSchema.fields.get(m.id);
      if (!f) return void problems.push(`${at}: ${target!.ref} is on ${type} v${rowSchema.version}, which has no such field (dossier record migrate ${target!.ref} --to v${newest})`);
      if (f.retired) return void problems.push(`${at}: "${f.id}" is retired in ${type} v${rowSchema.version}: it can no longer be set`);
      if (f.scope !== 'base') return void problems.push(`${at}: "${f.id}" belongs to a recipient's section: use dossier field import with a recipient column`);
      const parsed = parseFieldValue(f, raw);
      if (!parsed.ok) problems.push(`${at}: ${parsed.problem}`);
      else if (parsed.value !== null) values.push({ field: f, value: parsed.value });
    });
    const title = titleCol >= 0 && !empty(row.cells[titleCol]) ? String(row.cells[titleCol]).trim() : undefined;
    planned.push({ line: row.line, existing: target, title, values });
    if (n % 100 === 99) opts.onProgress?.('checking', n + 1, sheet.rows.length);
  });
  opts.onProgress?.('checking', sheet.rows.length, sheet.rows.length);
  if (problems.length) fail(file, problems);

  // ---- 2. reference numbers for the new rows, as one block -----------------------------------------
  const fresh = planned.filter((p) => !p.existing);
  const t = recordType(app.config, type);
  const year = new Date().getFullYear();
  let firstSeq = 0;
  if (fresh.length) {
    const last = (
      await app.db.query<{ last: number }>(
        `INSERT INTO ref_counters (prefix, year, last) VALUES ($1, $2, $3)
         ON CONFLICT (prefix, year) DO UPDATE SET last = ref_counters.last + $3 RETURNING last`,
        [t.prefix, year, fresh.length],
      )
    ).rows[0]!.last;
    firstSeq = last - fresh.length + 1;
  }

  // ---- 3. write -------------------------------------------------------------------------------------
  const total = planned.length;
  try {
    return await withTransaction(app.db, async (c) => {
      const out: ImportedRow[] = [];
      let done = 0;
      const step = (n: number) => opts.onProgress?.('writing', (done += n), total);
      // New records, their creation events, their values.
      for (let i = 0; i < fresh.length; i += CHUNK) {
        const part = fresh.slice(i, i + CHUNK);
        const seqs = part.map((_, k) => firstSeq + i + k);
        const refsOf = seqs.map((s) => formatRef(t.prefix, year, s));
        const ids = await insertRecords(c, importer, type, year, seqs, refsOf, part.map((p) => p.title ?? null), t.initialStatus, newest);
        await insertEvents(
          c,
          importer,
          part.map((p, k) => ({ recordId: ids[k]!, kind: 'record_created', field: null, oldValue: null, newValue: { ref: refsOf[k], type, title: p.title ?? null, status: t.initialStatus, schemaVersion: newest }, details: { origin } })),
        );
        const cells = part.flatMap((p, k) => p.values.map((v) => ({ recordId: ids[k]!, field: v.field.id, value: v.value, old: null as FieldValue })));
        await writeValues(c, importer, cells, newest, origin);
        part.forEach((p, k) => out.push({ ref: refsOf[k]!, values: p.values.length, parties: [] }));
        step(part.length);
      }
      // Existing records: only what differs from what they hold.
      const updates = planned.filter((p) => p.existing);
      for (let i = 0; i < updates.length; i += CHUNK) {
        const part = updates.slice(i, i + CHUNK);
        const ids = part.map((p) => p.existing!.id);
        await c.query('SELECT id FROM records WHERE id = ANY($1) ORDER BY id FOR UPDATE', [ids]);
        const held = new Map<string, FieldValue>();
        for (const r of (await c.query<{ record_id: number; field_id: string; value: FieldValue }>('SELECT record_id, field_id, value FROM field_values WHERE record_id = ANY($1) AND party_id IS NULL', [ids])).rows) {
          held.set(`${r.record_id}:${r.field_id}`, r.value);
        }
        const titleChanges = part.filter((p) => p.title !== undefined && p.title !== p.existing!.title);
        if (titleChanges.length) {
          await c.query('UPDATE records r SET title = u.title, updated_at = now() FROM unnest($1::bigint[], $2::text[]) AS u(id, title) WHERE r.id = u.id', [titleChanges.map((p) => p.existing!.id), titleChanges.map((p) => p.title!)]);
          await insertEvents(c, importer, titleChanges.map((p) => ({ recordId: p.existing!.id, kind: 'title_changed', field: 'title', oldValue: p.existing!.title, newValue: p.title!, details: { origin } })));
        }
        const byVersion = new Map<number, { recordId: number; field: string; value: FieldValue; old: FieldValue }[]>();
        for (const p of part) {
          let n = 0;
          for (const v of p.values) {
            const old = held.get(`${p.existing!.id}:${v.field.id}`) ?? null;
            if (old !== null && sameValue(old, v.value)) continue;
            const list = byVersion.get(p.existing!.schema_version) ?? [];
            list.push({ recordId: p.existing!.id, field: v.field.id, value: v.value, old });
            byVersion.set(p.existing!.schema_version, list);
            n++;
          }
          out.push({ ref: p.existing!.ref, values: n, parties: [], updated: true });
        }
        for (const [version, cells] of byVersion) await writeValues(c, importer, cells, version, origin);
        const touched = [...new Set([...byVersion.values()].flat().map((x) => x.recordId))];
        if (touched.length) await c.query('UPDATE records SET updated_at = now() WHERE id = ANY($1)', [touched]);
        step(part.length);
      }
      // In the file's order, as the person reads it.
      const order = new Map(planned.map((p, k) => [p.existing?.ref ?? formatRef(t.prefix, year, firstSeq + fresh.indexOf(p)), k]));
      return out.sort((a, b) => order.get(a.ref)! - order.get(b.ref)!);
    });
  } catch (err) {
    // Give the block of numbers back when nobody has taken a number since (the usual case).
    if (fresh.length) {
      await app.db
        .query('UPDATE ref_counters SET last = last - $3 WHERE prefix = $1 AND year = $2 AND last = $4', [t.prefix, year, fresh.length, firstSeq + fresh.length - 1])
        .catch(() => {});
    }
    throw err;
  }
}

async function insertRecords(c: DbClient, actor: Actor, type: string, year: number, seqs: number[], refs: string[], titles: (string | null)[], status: string, version: number): Promise<number[]> {
  const r = await c.query<{ id: number; ref: string }>(
    `INSERT INTO records (type, ref, year, seq, title, status, schema_version, created_by)
     SELECT $1, u.ref, $2, u.seq, u.title, $3, $4, $5 FROM unnest($6::text[], $7::int[], $8::text[]) AS u(ref, seq, title)
     RETURNING id, ref`,
    [type, year, status, version, actor.id, refs, seqs, titles],
  );
  const byRef = new Map(r.rows.map((x) => [x.ref, x.id]));
  return refs.map((ref) => byRef.get(ref)!);
}

interface EventRowInput { recordId: number; kind: string; field: string | null; oldValue: unknown; newValue: unknown; details: Record<string, unknown> | null }

const jsonOrNull = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/** Audit events, many a statement (the same columns recordEvent writes one at a time). */
async function insertEvents(c: DbClient, actor: Actor, events: EventRowInput[]): Promise<void> {
  for (let i = 0; i < events.length; i += CHUNK) {
    const part = events.slice(i, i + CHUNK);
    await c.query(
      `INSERT INTO events (record_id, actor, source, kind, field, old_value, new_value, details)
       SELECT u.record_id, $1, $2, u.kind, u.field, u.old_value::jsonb, u.new_value::jsonb, u.details::jsonb
       FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(record_id, kind, field, old_value, new_value, details)`,
      [actor.id, actor.source, part.map((e) => e.recordId), part.map((e) => e.kind), part.map((e) => e.field), part.map((e) => jsonOrNull(e.oldValue)), part.map((e) => jsonOrNull(e.newValue)), part.map((e) => jsonOrNull(e.details))],
    );
  }
}

/** Base values (inserted, or replacing what the record held) and one field_set event each. */
async function writeValues(c: DbClient, actor: Actor, cells: { recordId: number; field: string; value: FieldValue; old: FieldValue }[], version: number, origin: string): Promise<void> {
  for (let i = 0; i < cells.length; i += CHUNK) {
    const part = cells.slice(i, i + CHUNK);
    await c.query(
      `INSERT INTO field_values (record_id, party_id, field_id, value, schema_version, set_by, source, origin)
       SELECT u.record_id, NULL, u.field_id, u.value::jsonb, $1, $2, 'import', $3 FROM unnest($4::bigint[], $5::text[], $6::text[]) AS u(record_id, field_id, value)
       ON CONFLICT (record_id, COALESCE(party_id, 0), field_id) DO UPDATE SET value = EXCLUDED.value, schema_version = EXCLUDED.schema_version,
         set_at = now(), set_by = EXCLUDED.set_by, source = EXCLUDED.source, origin = EXCLUDED.origin`,
      [version, actor.id, origin, part.map((x) => x.recordId), part.map((x) => x.field), part.map((x) => JSON.stringify(x.value))],
    );
  }
  await insertEvents(
    c,
    actor,
    cells.map((x) => ({ recordId: x.recordId, kind: 'field_set', field: x.field, oldValue: x.old, newValue: x.value, details: { section: 'base', schemaVersion: version, origin } })),
  );
}
