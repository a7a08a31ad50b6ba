import type { Actor, App } from '../../app.js';
import { DossierError } from '../../errors.js';
import { migrateRecords, parseAssignments, setFields, showFields, type FieldChange, type FieldView, type MigrationReport } from '../../schemas/fields.js';
import { listRecords } from '../../records/records.js';
import { formatTable, formatTime } from '../output.js';
import { parseVersion } from './schema.js';

const cut = (s: string, n: number) => ([...s].length > n ? [...s].slice(0, n - 1).join('') + '…' : s);
const show = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

export async function fieldSet(app: App, actor: Actor, ref: string, args: string[], opts: { recipient?: string | undefined }) {
  if (!args.length) throw new DossierError('USAGE', 'No values given.', { hint: 'dossier field set <ref> [--recipient <party>] field_id=value …' });
  return setFields(app, actor, ref, parseAssignments(args, opts.recipient ?? null), { source: 'cli' });
}

export async function fieldUnset(app: App, actor: Actor, ref: string, ids: string[], opts: { recipient?: string | undefined }) {
  return setFields(app, actor, ref, ids.map((field) => ({ party: opts.recipient ?? null, field, raw: null })), { source: 'cli' });
}

export function renderChanges(r: { ref: string; changes: FieldChange[] }): string {
  if (!r.changes.length) return `${r.ref}: nothing changed (the values were already there).`;
  return `${r.ref}: ${r.changes.length} change(s)\n` + formatTable(['section', 'field', 'change', 'old', 'new'], r.changes.map((c) => [c.party ?? 'base', c.field, c.kind, show(c.old), show(c.new)]));
}

export async function fieldShow(app: App, ref: string, opts: { recipient?: string | undefined; all?: boolean | undefined; missing?: boolean | undefined }) {
  return showFields(app, ref, { recipient: opts.recipient, all: Boolean(opts.all), missing: Boolean(opts.missing) });
}

const PROVENANCE: Record<string, string> = {
  set: '',
  inherited: 'inherited from base',
  overridden: 'overridden',
  stale_override: 'STALE override: base changed since',
  recipient: 'recipient value',
  empty: '',
};

export function renderFieldView(v: FieldView): string {
  const head = `${v.ref} · ${v.type} v${v.version} · ${v.section === 'base' ? 'base section' : `section of ${v.section} (${v.partyName})`}`;
  if (!v.values.length) return `${head}\n${v.mode === 'missing' ? 'Every required field has a value.' : 'No values to show (try --all, or --missing for required fields still empty).'}`;
  return (
    head +
    '\n' +
    formatTable(
      ['field', 'label', 'value', 'provenance', 'set by', 'when', 'from'],
      v.values.map((x) => [
        x.field + (x.retired ? ' (retired)' : '') + (x.problems ? ' (!)' : ''),
        cut(x.label, 40),
        cut(x.display, 60),
        [PROVENANCE[x.provenance], x.baseValue !== undefined ? `base: ${show(x.baseValue)}` : '', x.problems ? x.problems.join('; ') : ''].filter(Boolean).join('; '),
        x.setBy,
        x.setAt ? formatTime(x.setAt) : '',
        x.origin ?? x.source,
      ]),
    )
  );
}

export async function recordMigrate(app: App, actor: Actor, ref: string | undefined, opts: { to: string; all?: boolean | undefined; type?: string | undefined }) {
  const to = parseVersion(opts.to);
  let refs: string[];
  if (opts.all) {
    if (!opts.type) throw new DossierError('USAGE', '--all needs --type (deal, claim, …).', { hint: 'dossier record migrate --all --type deal --to v2' });
    refs = (await listRecords(app.db, app.config, { type: opts.type })).filter((r) => r.schema_version !== null && r.schema_version !== to).map((r) => r.ref);
  } else {
    if (!ref) throw new DossierError('USAGE', 'Give a record reference, or --all --type <type>.', { hint: 'dossier record migrate DL-2026-00042 --to v2' });
    refs = [ref];
  }
  return migrateRecords(app, actor, refs, to);
}

export function renderMigrations(reports: MigrationReport[]): string {
  if (!reports.length) return 'No records to migrate.';
  return reports
    .map((r) =>
      r.skipped
        ? `${r.ref}: already on v${r.to}.`
        : [
            `${r.ref}: v${r.from} → v${r.to}; every value kept.`,
            r.retiredWithValues.length ? `  retired in v${r.to}, values kept (field show --all): ${r.retiredWithValues.join(', ')}` : '',
            ...r.needsAttention.map((n) => `  needs attention: ${n.field}: ${n.problems.join('; ')}`),
          ]
            .filter(Boolean)
            .join('\n'),
    )
    .join('\n');
}
