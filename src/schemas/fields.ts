import type { Actor, App } from '../app.js';
import { withTransaction, type DbClient, type Queryable } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { recordEvent, recordEvents, type EventInput } from '../records/events.js';
import { recordParties, type LinkedParty } from '../records/parties.js';
import { getRecord, type RecordRow } from '../records/records.js';
import type { FieldDef, FieldValue, SchemaVersion } from './types.js';
import { checkStoredValue, displayValue, parseFieldValue } from './values.js';

// Field values of one record: the base section (typed once) and one section per recipient, which
// inherits every base value unless it overrides it. Every change is an audit event.

export interface StoredValue {
  id: number;
  party_id: number | null;
  field_id: string;
  value: FieldValue;
  schema_version: number;
  set_at: Date;
  set_by: string;
  source: string;
  origin: string | null;
}

export interface RecordSchemaContext { record: RecordRow; schema: SchemaVersion; parties: LinkedParty[] }

export async function recordSchemaContext(app: App, q: Queryable, ref: string, opts: { forUpdate?: boolean } = {}): Promise<RecordSchemaContext> {
  const record = await getRecord(q, ref, opts);
  if (record.schema_version === null) {
    throw new DossierError('SCHEMA_NOT_PUBLISHED', `${record.ref} has no field schema: it was created before any ${record.type} schema was published.`, {
      hint: `Publish one (dossier schema publish ${record.type} v1), then dossier record migrate ${record.ref} --to v1.`,
    });
  }
  return { record, schema: await app.schemas.published(record.type, record.schema_version), parties: await recordParties(q, record.id) };
}

/** The recipient section's party: it must be linked to the record. */
export function sectionParty(ctx: RecordSchemaContext, key: string | undefined): LinkedParty | null {
  if (!key) return null;
  const p = ctx.parties.find((x) => x.key === key);
  if (!p) {
    throw new DossierError('PARTY_NOT_FOUND', `${key} is not linked to ${ctx.record.ref}, so it has no section there.`, {
      hint: `Link it first: dossier record link ${ctx.record.ref} ${key} --role recipient. Linked: ${ctx.parties.map((x) => x.key).join(', ') || 'none'}.`,
    });
  }
  return p;
}

/** Fields that a section carries: base → base-scope fields; a recipient → base fields + its own. */
export function sectionFields(schema: SchemaVersion, party: LinkedParty | null): FieldDef[] {
  return [...schema.fields.values()].filter((f) => (party ? f.scope === 'base' || !f.recipientKind || f.recipientKind === party.kind : f.scope === 'base'));
}

function similar(schema: SchemaVersion, id: string): string[] {
  const words = id.toLowerCase().split(/[_\s]+/).filter((w) => w.length > 2);
  return [...schema.fields.values()]
    .filter((f) => !f.retired && words.some((w) => f.id.includes(w) || f.label.ru.toLowerCase().includes(w) || f.label.en.toLowerCase().includes(w)))
    .slice(0, 5)
    .map((f) => f.id);
}

/** Why this field cannot be set in this section, or null when it can. */
function whyNot(ctx: RecordSchemaContext, f: FieldDef | undefined, id: string, party: LinkedParty | null): string | null {
  const v = ctx.schema.version;
  if (!f) {
    const s = similar(ctx.schema, id);
    return `there is no field "${id}" in ${ctx.record.type} v${v}${s.length ? ` (did you mean ${s.join(', ')}?)` : ''}`;
  }
  if (f.retired) return `"${id}" is retired in ${ctx.record.type} v${v}: its value stays visible (field show --all) but it can no longer be set`;
  if (!party && f.scope === 'recipient') return `"${id}" belongs to a recipient's section: add --recipient <party>`;
  if (party && f.scope === 'base' && !f.overridable) return `"${id}" is the same for every recipient and cannot be overridden: set it without --recipient`;
  if (party && f.recipientKind && f.recipientKind !== party.kind) return `"${id}" is a ${f.recipientKind} field and ${party.key} is a ${party.kind}`;
  return null;
}

export interface Assignment { party: string | null; field: string; raw: unknown }
export interface FieldChange { party: string | null; field: string; kind: 'set' | 'cleared' | 'confirmed'; old: FieldValue; new: FieldValue }
export interface ValueSource { source: 'cli' | 'import' | 'message'; origin?: string | null }

/**
 * Parses and checks every assignment first; one bad value applies nothing (all problems are listed).
 * Then writes them in the caller's transaction and appends one audit event per changed value.
 */
export async function applyAssignments(c: DbClient, ctx: RecordSchemaContext, actor: Actor, assignments: Assignment[], src: ValueSource): Promise<FieldChange[]> {
  const problems: string[] = [];
  const planned: { party: LinkedParty | null; field: FieldDef; value: FieldValue }[] = [];
  for (const a of assignments) {
    let party: LinkedParty | null;
    try {
      party = sectionParty(ctx, a.party ?? undefined);
    } catch (err) {
      problems.push(`${a.field}: ${(err as Error).message}`);
      continue;
    }
    const f = ctx.schema.fields.get(a.field);
    const why = whyNot(ctx, f, a.field, party);
    if (why || !f) {
      problems.push(`${a.field}${party ? ` [${party.key}]` : ''}: ${why}`);
      continue;
    }
    const parsed = parseFieldValue(f, a.raw);
    if (!parsed.ok) problems.push(`${a.field}${party ? ` [${party.key}]` : ''}: ${parsed.problem}`);
    else planned.push({ party, field: f, value: parsed.value });
  }
  if (problems.length) {
    throw new DossierError('FIELD_INVALID', `Nothing was changed on ${ctx.record.ref}; ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`, {
      hint: 'Fix the values and run the command again (`dossier schema show` lists the fields).',
      details: { problems },
    });
  }

  // One value per cell: a cell named twice takes the last value, as if written one after another.
  const cells = new Map<string, (typeof planned)[number]>();
  for (const p of planned) cells.set(`${p.party?.id ?? 0}:${p.field.id}`, p);
  const plan = [...cells.values()];
  if (!plan.length) return [];

  // The cells as they are, locked, with the base value's time beside each override (a value given
  // again confirms an override whose base changed since it was set).
  const priors = (
    await c.query<StoredValue & { base_set_at: Date | null }>(
      `SELECT fv.*, b.set_at AS base_set_at FROM field_values fv
       LEFT JOIN field_values b ON fv.party_id IS NOT NULL AND b.record_id = fv.record_id AND b.party_id IS NULL AND b.field_id = fv.field_id
       WHERE fv.record_id = $1 AND (COALESCE(fv.party_id, 0), fv.field_id) IN (SELECT * FROM unnest($2::bigint[], $3::text[]))
       FOR UPDATE OF fv`,
      [ctx.record.id, plan.map((p) => p.party?.id ?? 0), plan.map((p) => p.field.id)],
    )
  ).rows;
  const priorOf = new Map(priors.map((r) => [`${r.party_id ?? 0}:${r.field_id}`, r]));
  const same = (a: FieldValue | undefined, b: FieldValue) => a !== undefined && JSON.stringify(a) === JSON.stringify(b);
  // Base values this call changes: an override given again beside them is confirmed.
  const baseWritten = new Set(plan.filter((p) => !p.party && p.value !== null && !same(priorOf.get(`0:${p.field.id}`)?.value, p.value)).map((p) => p.field.id));

  const changes: FieldChange[] = [];
  const events: EventInput[] = [];
  const cleared: number[] = [];
  const confirmed: number[] = [];
  const written: { party_id: number | null; field_id: string; value: FieldValue }[] = [];
  for (const p of plan) {
    const partyId = p.party?.id ?? null;
    const prior = priorOf.get(`${partyId ?? 0}:${p.field.id}`);
    const old = prior?.value ?? null;
    let kind: FieldChange['kind'];
    if (p.value === null) {
      if (!prior) continue;
      cleared.push(prior.id);
      kind = 'cleared';
    } else if (prior && same(prior.value, p.value)) {
      // The same value again: on an override whose base changed since (or changes now), it confirms the override.
      const stale = baseWritten.has(p.field.id) || (prior.base_set_at !== null && prior.base_set_at > prior.set_at);
      if (!p.party || !stale) continue;
      confirmed.push(prior.id);
      kind = 'confirmed';
    } else {
      written.push({ party_id: partyId, field_id: p.field.id, value: p.value });
      kind = 'set';
    }
    const section = p.party?.key ?? null;
    events.push({
      recordId: ctx.record.id,
      partyId,
      kind: kind === 'set' ? 'field_set' : kind === 'cleared' ? 'field_cleared' : 'override_confirmed',
      field: p.field.id,
      oldValue: old,
      newValue: p.value,
      details: { section: section ?? 'base', schemaVersion: ctx.schema.version, ...(src.origin ? { origin: src.origin } : {}) },
    });
    changes.push({ party: section, field: p.field.id, kind, old, new: p.value });
  }
  if (!changes.length) return changes;
  // Every write and the record's updated_at in one statement, then the events in one more.
  await c.query(
    `WITH cleared AS (DELETE FROM field_values WHERE id = ANY($2::bigint[])),
     confirmed AS (UPDATE field_values SET set_at = now(), set_by = $3, source = $4, origin = $5 WHERE id = ANY($6::bigint[])),
     written AS (
       INSERT INTO field_values (record_id, party_id, field_id, value, schema_version, set_by, source, origin)
       SELECT $1, x.party_id, x.field_id, x.value, $7, $3, $4, $5 FROM json_to_recordset($8::json) AS x(party_id bigint, field_id text, value jsonb)
       ON CONFLICT (record_id, COALESCE(party_id, 0), field_id) DO UPDATE SET value = EXCLUDED.value, schema_version = EXCLUDED.schema_version,
         set_at = now(), set_by = EXCLUDED.set_by, source = EXCLUDED.source, origin = EXCLUDED.origin)
     UPDATE records SET updated_at = now() WHERE id = $1`,
    [ctx.record.id, cleared, actor.id, src.source, src.origin ?? null, confirmed, ctx.schema.version, JSON.stringify(written)],
  );
  await recordEvents(c, actor, events);
  return changes;
}

export async function setFields(app: App, actor: Actor, ref: string, assignments: Assignment[], src: ValueSource): Promise<{ ref: string; changes: FieldChange[] }> {
  return withTransaction(app.db, async (c) => {
    const ctx = await recordSchemaContext(app, c, ref, { forUpdate: true });
    return { ref: ctx.record.ref, changes: await applyAssignments(c, ctx, actor, assignments, src) };
  });
}

/** `id=value` arguments from the command line. */
export function parseAssignments(args: string[], party: string | null): Assignment[] {
  return args.map((arg) => {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new DossierError('USAGE', `"${arg}" is not field=value.`, { hint: 'Write each value as field_id=value, e.g. loan_term_months=48 or borrower_birth_date=21.11.1985.' });
    return { party, field: arg.slice(0, eq).trim(), raw: arg.slice(eq + 1) };
  });
}

export type Provenance = 'set' | 'inherited' | 'overridden' | 'stale_override' | 'recipient' | 'empty';

export interface EffectiveValue {
  field: string;
  section: string;
  label: string;
  type: string;
  value: FieldValue;
  display: string;
  provenance: Provenance;
  /** For overrides: the base value they replace. */
  baseValue?: FieldValue;
  setBy: string | null;
  setAt: Date | null;
  source: string | null;
  origin: string | null;
  required: boolean;
  retired: boolean;
  /** The value was set for a field this version does not have (record migrated to an older version). */
  notInVersion?: boolean;
  /** Problems of a kept value under this version's rules (after a migration). */
  problems?: string[];
}

export interface FieldView { ref: string; type: string; version: number; section: string; partyName: string | null; mode: 'values' | 'all' | 'missing'; values: EffectiveValue[] }

export async function showFields(app: App, ref: string, opts: { recipient?: string | undefined; all?: boolean; missing?: boolean } = {}): Promise<FieldView> {
  const ctx = await recordSchemaContext(app, app.db, ref);
  const party = sectionParty(ctx, opts.recipient);
  const rows = (await app.db.query<StoredValue>('SELECT * FROM field_values WHERE record_id = $1 AND (party_id IS NULL OR party_id = $2)', [ctx.record.id, party?.id ?? null])).rows;
  const base = new Map(rows.filter((r) => r.party_id === null).map((r) => [r.field_id, r]));
  const own = new Map(party ? rows.filter((r) => r.party_id === party.id).map((r) => [r.field_id, r]) : []);
  const values: EffectiveValue[] = [];
  for (const f of sectionFields(ctx.schema, party)) {
    const mine = own.get(f.id);
    const inherited = f.scope === 'base' ? base.get(f.id) : undefined;
    const row = party ? (mine ?? inherited) : base.get(f.id);
    let provenance: Provenance = 'empty';
    if (!party) provenance = row ? 'set' : 'empty';
    else if (mine && f.scope === 'base') provenance = inherited && inherited.set_at > mine.set_at ? 'stale_override' : 'overridden';
    else if (mine) provenance = 'recipient';
    else if (row) provenance = 'inherited';
    const v: EffectiveValue = {
      field: f.id,
      section: f.section,
      label: f.label.ru,
      type: f.type,
      value: row?.value ?? null,
      display: row ? displayValue(f, row.value) : '',
      provenance,
      setBy: row?.set_by ?? null,
      setAt: row?.set_at ?? null,
      source: row?.source ?? null,
      origin: row?.origin ?? null,
      required: f.required,
      retired: f.retired,
    };
    if (mine && inherited && f.scope === 'base') v.baseValue = inherited.value;
    if (row) {
      const problems = checkStoredValue(f, row.value);
      if (problems.length) v.problems = problems;
    }
    values.push(v);
  }
  // Values kept for fields this version does not have at all.
  for (const r of [...(party ? own.values() : base.values())]) {
    if (ctx.schema.fields.has(r.field_id)) continue;
    values.push({ field: r.field_id, section: '—', label: r.field_id, type: '?', value: r.value, display: JSON.stringify(r.value), provenance: party ? 'recipient' : 'set', setBy: r.set_by, setAt: r.set_at, source: r.source, origin: r.origin, required: false, retired: true, notInVersion: true });
  }
  const shown = values.filter((v) => (opts.missing ? v.required && !v.retired && v.provenance === 'empty' : opts.all || (v.provenance !== 'empty' && !v.retired)));
  const mode = opts.missing ? 'missing' : opts.all ? 'all' : 'values';
  return { ref: ctx.record.ref, type: ctx.record.type, version: ctx.schema.version, section: party?.key ?? 'base', partyName: party?.name ?? null, mode, values: shown };
}

export interface MigrationReport { ref: string; from: number | null; to: number; retiredWithValues: string[]; needsAttention: { field: string; problems: string[] }[]; skipped?: boolean }

/** Moves records to another published version. Values are never touched: only the version changes. */
export async function migrateRecords(app: App, actor: Actor, refs: string[], to: number): Promise<MigrationReport[]> {
  const reports: MigrationReport[] = [];
  for (const ref of refs) {
    reports.push(
      await withTransaction(app.db, async (c) => {
        const record = await getRecord(c, ref, { forUpdate: true });
        const target = await app.schemas.published(record.type, to);
        if (record.schema_version === to) return { ref: record.ref, from: to, to, retiredWithValues: [], needsAttention: [], skipped: true };
        const rows = (await c.query<StoredValue>('SELECT * FROM field_values WHERE record_id = $1', [record.id])).rows;
        const retiredWithValues = new Set<string>();
        const needsAttention: MigrationReport['needsAttention'] = [];
        for (const r of rows) {
          const f = target.fields.get(r.field_id);
          if (!f || f.retired) {
            retiredWithValues.add(r.field_id);
            continue;
          }
          const problems = checkStoredValue(f, r.value);
          if (problems.length) needsAttention.push({ field: r.field_id, problems });
        }
        await c.query('UPDATE records SET schema_version = $2, updated_at = now() WHERE id = $1', [record.id, to]);
        const report: MigrationReport = { ref: record.ref, from: record.schema_version, to, retiredWithValues: [...retiredWithValues].sort(), needsAttention };
        await recordEvent(c, actor, { recordId: record.id, kind: 'schema_migrated', field: 'schema_version', oldValue: record.schema_version, newValue: to, details: { retiredWithValues: report.retiredWithValues, needsAttention } });
        return report;
      }),
    );
  }
  return reports;
}
