import type { Actor, App } from '../../app.js';
import { DossierError } from '../../errors.js';
import { formatProblem, type SchemaProblem } from '../../schemas/load.js';
import type { SchemaVersion } from '../../schemas/types.js';
import { diffVersions, type FieldChange } from '../../schemas/versions.js';
import { formatTable, formatTime } from '../output.js';

export function parseVersion(v: string): number {
  const m = /^v?(\d+)$/i.exec(v.trim());
  if (!m) throw new DossierError('USAGE', `"${v}" is not a schema version.`, { hint: 'Write a version as v2 (or 2).' });
  return Number(m[1]);
}

export async function schemaValidate(app: App, opts: { type?: string | undefined }) {
  const r = await app.schemas.validate(opts.type);
  if (r.problems.length) {
    throw new DossierError('SCHEMA_INVALID', `${r.problems.length} problem(s) in ${app.schemas.dir}:\n  - ${r.problems.map(formatProblem).join('\n  - ')}`, {
      hint: 'Each line gives the file, the line and the field id.',
      details: { problems: r.problems },
    });
  }
  return { files: r.files, problems: [] as SchemaProblem[] };
}

export const renderValidate = (r: { files: string[] }) => `OK: ${r.files.length} schema file(s), no problems.`;

export async function schemaList(app: App, opts: { type?: string | undefined }) {
  const list = await app.schemas.list(opts.type);
  const out = [];
  for (const v of list) {
    let live = 0;
    let retired = 0;
    try {
      const s = await app.schemas.any(v.type, v.version);
      for (const f of s.fields.values()) f.retired ? retired++ : live++;
    } catch {
      // an unreadable or edited file still gets its line, with the state saying why
    }
    out.push({ ...v, live, retired });
  }
  return out;
}

export function renderSchemaList(rows: Awaited<ReturnType<typeof schemaList>>): string {
  if (!rows.length) return 'No field schemas.';
  return formatTable(
    ['type', 'version', 'fields', 'retired', 'state'],
    rows.map((r) => [r.type, `v${r.version}`, r.live, r.retired, r.changedSincePublished ? 'CHANGED after publishing — restore the file, make a new version' : r.published ? `published ${formatTime(r.published.at)} by ${r.published.by}` : 'draft (not published)']),
  );
}

async function pickVersion(app: App, type: string, v?: string): Promise<number> {
  if (v) return parseVersion(v);
  const newest = (await app.schemas.newestPublished(type)) ?? app.schemas.files(type).at(-1)?.version;
  if (!newest) throw new DossierError('SCHEMA_NOT_FOUND', `There is no field schema for "${type}".`, { hint: 'See `dossier schema list`.' });
  return newest;
}

export async function schemaShow(app: App, type: string, v?: string) {
  const s = await app.schemas.any(type, await pickVersion(app, type, v));
  return {
    type: s.type,
    version: s.version,
    published: s.isPublished,
    title: s.title,
    notes: s.notes ?? null,
    sections: s.sections.map((sec) => ({ id: sec.id, label: sec.label, recipientKind: sec.recipientKind ?? null, fields: sec.fields })),
  };
}

export function renderSchemaShow(s: Awaited<ReturnType<typeof schemaShow>>): string {
  const out = [`${s.type} v${s.version} — ${s.title.ru} / ${s.title.en}${s.published ? '' : '  (draft)'}`];
  for (const sec of s.sections) {
    out.push('', `[${sec.id}] ${sec.label.ru}${sec.recipientKind ? `  (only in a ${sec.recipientKind}'s section)` : ''}`);
    out.push(
      formatTable(
        ['field', 'type', 'label', 'flags'],
        sec.fields.map((f) => [
          f.id,
          f.type === 'enum' ? `enum(${(f.options ?? []).map((o) => o.value).join('|')})` : f.type === 'table' ? `table(${(f.columns ?? []).map((c) => c.id).join(', ')})` : f.type,
          f.label.ru,
          [f.required && 'required', f.scope === 'recipient' && !sec.recipientKind && 'per recipient', f.scope === 'base' && !f.overridable && 'not overridable', f.retired && 'RETIRED'].filter(Boolean).join(', '),
        ]),
      ),
    );
  }
  return out.join('\n');
}

export interface DiffResult {
  type: string;
  from: number;
  to: number;
  recordsOnFrom: number;
  added: { id: string; label: string; type: string; records: number }[];
  retired: { id: string; label: string; records: number }[];
  changed: (FieldChange & { records: number })[];
}

export async function schemaDiff(app: App, type: string, a: string, b: string): Promise<DiffResult> {
  const va: SchemaVersion = await app.schemas.any(type, parseVersion(a));
  const vb: SchemaVersion = await app.schemas.any(type, parseVersion(b));
  const d = diffVersions(va, vb);
  // "Touches": records now on the older version that hold a value of the field (for an added field:
  // every record on the older version, which gains it empty when migrated).
  const recordsOnFrom = Number((await app.db.query<{ n: string }>('SELECT count(*) AS n FROM records WHERE type = $1 AND schema_version = $2', [type, va.version])).rows[0]!.n);
  const counts = new Map(
    (
      await app.db.query<{ field_id: string; n: string }>(
        `SELECT fv.field_id, count(DISTINCT fv.record_id) AS n FROM field_values fv JOIN records r ON r.id = fv.record_id
         WHERE r.type = $1 AND r.schema_version = $2 GROUP BY fv.field_id`,
        [type, va.version],
      )
    ).rows.map((r) => [r.field_id, Number(r.n)]),
  );
  return {
    type,
    from: va.version,
    to: vb.version,
    recordsOnFrom,
    added: d.added.map((f) => ({ id: f.id, label: f.label.ru, type: f.type, records: recordsOnFrom })),
    retired: d.retired.map((f) => ({ id: f.id, label: f.label.ru, records: counts.get(f.id) ?? 0 })),
    changed: d.changed.map((c) => ({ ...c, records: counts.get(c.id) ?? 0 })),
  };
}

export function renderDiff(d: DiffResult): string {
  const out = [`${d.type} v${d.from} → v${d.to}: ${d.added.length} added, ${d.retired.length} retired, ${d.changed.length} changed; ${d.recordsOnFrom} record(s) on v${d.from}.`];
  if (d.added.length) out.push('', 'Added (records on the old version gain them empty when migrated):', formatTable(['field', 'type', 'label', 'records'], d.added.map((f) => [f.id, f.type, f.label, f.records])));
  if (d.retired.length) out.push('', 'Retired (values are kept and stay visible with field show --all):', formatTable(['field', 'label', 'records with a value'], d.retired.map((f) => [f.id, f.label, f.records])));
  if (d.changed.length) out.push('', 'Changed:', formatTable(['field', 'what', 'records with a value'], d.changed.map((c) => [c.id, c.what.join('; '), c.records])));
  return out.join('\n');
}

export async function schemaPublish(app: App, actor: Actor, type: string, v: string) {
  const version = parseVersion(v);
  const r = await app.schemas.publish(type, version, actor);
  return { type, version, ...r };
}

export const renderPublish = (r: { type: string; version: number; sha256: string; already: boolean }) =>
  r.already ? `${r.type} v${r.version} was already published (sha256 ${r.sha256.slice(0, 12)}).` : `Published ${r.type} v${r.version} (sha256 ${r.sha256.slice(0, 12)}); new ${r.type}s are created on it. Commit field-schemas/published.yaml.`;
