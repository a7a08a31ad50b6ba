import { parse } from 'csv-parse/sync';
import { encodingNote, readTextFile } from '../text-encoding.js';
import type { Actor } from '../app.js';
import type { Config } from '../config/schema.js';
import { withTransaction, type Db, type Queryable } from '../db/pool.js';
import { DossierError, isDossierError } from '../errors.js';
import { recordEvent } from './events.js';
import { getRecord } from './records.js';

export interface PartyRow {
  id: number;
  key: string;
  kind: string;
  name: string;
  emails: string[];
  phone: string | null;
  /** templates/<profile>/package.yaml, tried after the party's key and kind; null: none chosen. */
  profile: string | null;
  /** Mail domains of the party's own (never a public provider's): any address there speaks for it. */
  domains: string[];
  created_at: Date;
}

export interface PartyInput { key: string; kind: string; name: string; emails: string[]; phone?: string | null | undefined }

const KEY = /^[a-z0-9][a-z0-9-]{0,62}$/;
const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;
const PHONE = /^\+?[0-9 ()-]{5,20}$/;

/** Every problem with one party's data, as readable sentences (empty when it is fine). */
export function partyProblems(config: Config, p: PartyInput): string[] {
  const problems: string[] = [];
  if (!KEY.test(p.key)) problems.push(`key "${p.key}" must be lower-case Latin letters, digits and dashes (e.g. bank-sever)`);
  if (!config.parties.kinds.includes(p.kind)) problems.push(`kind "${p.kind}" is not one of: ${config.parties.kinds.join(', ')}`);
  if (!p.name.trim()) problems.push('name is empty');
  for (const e of p.emails) if (!EMAIL.test(e)) problems.push(`"${e}" is not an email address`);
  if (p.phone && !PHONE.test(p.phone)) problems.push(`"${p.phone}" is not a phone number (digits, spaces, + ( ) -)`);
  return problems;
}

function normalise(p: PartyInput): PartyInput {
  return { key: p.key.trim(), kind: p.kind.trim(), name: p.name.trim(), emails: [...new Set(p.emails.map((e) => e.trim().toLowerCase()).filter(Boolean))], phone: p.phone?.trim() || null };
}

export async function insertParty(q: Queryable, actor: Actor, p: PartyInput, source: Record<string, unknown> | null): Promise<PartyRow> {
  const row = (
    await q.query<PartyRow>(`INSERT INTO parties (key, kind, name, emails, phone) VALUES ($1, $2, $3, $4, $5) RETURNING *`, [p.key, p.kind, p.name, p.emails, p.phone ?? null])
  ).rows[0]!;
  await recordEvent(q, actor, { partyId: row.id, kind: 'party_added', newValue: { key: p.key, kind: p.kind, name: p.name, emails: p.emails, phone: p.phone ?? null }, details: source });
  return row;
}

export async function addParty(db: Db, config: Config, actor: Actor, input: PartyInput): Promise<PartyRow> {
  const p = normalise(input);
  const problems = partyProblems(config, p);
  if (problems.length) throw new DossierError('PARTY_INVALID', `Party "${p.key}": ${problems.join('; ')}.`, { details: { problems } });
  return withTransaction(db, async (c) => {
    const exists = await c.query('SELECT 1 FROM parties WHERE key = $1', [p.key]);
    if (exists.rowCount) {
      throw new DossierError('PARTY_EXISTS', `A party with the key "${p.key}" already exists.`, { hint: 'Choose another key, or see it with `dossier party list`.' });
    }
    return insertParty(c, actor, p, null);
  });
}

export async function getParty(q: Queryable, key: string): Promise<PartyRow> {
  const r = await q.query<PartyRow>('SELECT * FROM parties WHERE key = $1', [key.trim()]);
  if (!r.rows[0]) throw new DossierError('PARTY_NOT_FOUND', `There is no party "${key}".`, { hint: 'Add it with `dossier party add`, or see `dossier party list`.' });
  return r.rows[0];
}

export async function listParties(q: Queryable, filter: { kind?: string | undefined } = {}): Promise<PartyRow[]> {
  return (await q.query<PartyRow>('SELECT * FROM parties WHERE ($1::text IS NULL OR kind = $1) ORDER BY key', [filter.kind ?? null])).rows;
}

export interface ImportResult { added: PartyRow[]; updated: PartyRow[] }

/**
 * Imports parties from CSV (header: key, kind, name, emails, phone; comma or semicolon separated).
 * Every row is checked first; one bad row stops the import and nothing is written.
 */
export async function importParties(db: Db, config: Config, actor: Actor, file: string, opts: { update?: boolean; encoding?: string | undefined; onNote?: (line: string) => void } = {}): Promise<ImportResult> {
  let text: string;
  try {
    // Excel in a Russian locale saves CSV as windows-1251: the encoding is detected (or --encoding) and told.
    const decoded = await readTextFile(file, opts.encoding);
    if (decoded.encoding !== 'utf-8') opts.onNote?.(encodingNote(file, decoded));
    text = decoded.text;
  } catch (err) {
    if (isDossierError(err)) throw err;
    throw new DossierError('FILE_NOT_FOUND', `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}.`);
  }
  // Excel in a Russian locale saves CSV with semicolons: the header line tells which separator is used.
  const headerLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const delimiter = headerLine.includes(';') ? ';' : headerLine.includes('\t') ? '\t' : ',';
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parse(text, { columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), bom: true, delimiter, skip_empty_lines: true, trim: true, info: true, relax_column_count: false });
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    throw new DossierError('CSV_INVALID', `${file}${line ? ` line ${line}` : ''}: ${(err as Error).message}`, { hint: 'Nothing was imported. Fix the file and run the import again.' });
  }
  const problems: string[] = [];
  const header = rows[0] ? Object.keys(rows[0].record) : [];
  for (const need of ['key', 'kind', 'name']) if (rows.length && !header.includes(need)) problems.push(`header: column "${need}" is missing (have: ${header.join(', ')})`);
  const parties: { p: PartyInput; line: number }[] = [];
  const seen = new Map<string, number>();
  if (!problems.length) {
    for (const { record, info } of rows) {
      const p = normalise({ key: record.key ?? '', kind: record.kind ?? '', name: record.name ?? '', emails: (record.emails ?? record.email ?? '').split(/[\s,;]+/), phone: record.phone });
      const line = info.lines;
      for (const problem of partyProblems(config, p)) problems.push(`line ${line}: ${problem}`);
      const first = seen.get(p.key);
      if (first) problems.push(`line ${line}: key "${p.key}" is already used on line ${first}`);
      seen.set(p.key, line);
      parties.push({ p, line });
    }
  }
  if (problems.length) {
    throw new DossierError('CSV_INVALID', `${file} has ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`, {
      hint: 'Nothing was imported. Fix the rows and run the import again.',
      details: { problems },
    });
  }
  return withTransaction(db, async (c) => {
    const existing = new Map(
      (await c.query<PartyRow>('SELECT * FROM parties WHERE key = ANY($1)', [parties.map((x) => x.p.key)])).rows.map((r) => [r.key, r]),
    );
    const clashes = parties.filter((x) => existing.has(x.p.key));
    if (clashes.length && !opts.update) {
      throw new DossierError('PARTY_EXISTS', `${file}: ${clashes.map((x) => `line ${x.line}: a party with the key "${x.p.key}" already exists`).join('; ')}.`, {
        hint: 'Nothing was imported. Use --update to update existing parties from the file, or change the keys.',
      });
    }
    const result: ImportResult = { added: [], updated: [] };
    const source = { file };
    for (const { p } of parties) {
      const prior = existing.get(p.key);
      if (!prior) {
        result.added.push(await insertParty(c, { id: `import:${file}`, source: 'import' }, p, source));
        continue;
      }
      const row = (
        await c.query<PartyRow>('UPDATE parties SET kind = $2, name = $3, emails = $4, phone = $5, updated_at = now() WHERE id = $1 RETURNING *', [prior.id, p.kind, p.name, p.emails, p.phone ?? null])
      ).rows[0]!;
      for (const f of ['kind', 'name', 'emails', 'phone'] as const) {
        const before = prior[f] ?? null;
        const after = row[f] ?? null;
        if (JSON.stringify(before) !== JSON.stringify(after)) {
          await recordEvent(c, { id: `import:${file}`, source: 'import' }, { partyId: prior.id, kind: 'party_changed', field: f, oldValue: before, newValue: after, details: { ...source, by: actor.id } });
        }
      }
      result.updated.push(row);
    }
    return result;
  });
}

export interface LinkedParty extends PartyRow { role: string }

export async function linkParty(db: Db, config: Config, actor: Actor, ref: string, partyKey: string, role: string): Promise<{ created: boolean }> {
  checkRole(config, role);
  return withTransaction(db, async (c) => linkPartyIn(c, actor, await getRecord(c, ref, { forUpdate: true }), await getParty(c, partyKey), role));
}

/** Links inside the caller's transaction; the role must already be checked against the configuration. */
export async function linkPartyIn(c: Queryable, actor: Actor, rec: { id: number }, party: PartyRow, role: string): Promise<{ created: boolean }> {
  {
    const r = await c.query('INSERT INTO record_parties (record_id, party_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [rec.id, party.id, role]);
    if (!r.rowCount) return { created: false };
    await recordEvent(c, actor, { recordId: rec.id, partyId: party.id, kind: 'party_linked', field: `party:${party.key}`, newValue: { party: party.key, role } });
    return { created: true };
  }
}

/**
 * Unlinks a party from a record (all its roles there, or one). The party stays in the directory;
 * its earlier mail and events stay in the record's history.
 */
export async function unlinkParty(db: Db, actor: Actor, ref: string, partyKey: string, role?: string, reason?: string): Promise<{ ref: string; party: string; roles: string[] }> {
  return withTransaction(db, async (c) => {
    const rec = await getRecord(c, ref, { forUpdate: true });
    const party = await getParty(c, partyKey);
    const gone = await c.query<{ role: string }>(
      'DELETE FROM record_parties WHERE record_id = $1 AND party_id = $2 AND ($3::text IS NULL OR role = $3) RETURNING role',
      [rec.id, party.id, role ?? null],
    );
    if (!gone.rowCount) {
      throw new DossierError('PARTY_NOT_LINKED', `${party.key} is not linked to ${rec.ref}${role ? ` as ${role}` : ''}.`, { hint: `\`dossier record show ${rec.ref}\` lists the parties linked to it.` });
    }
    const roles = gone.rows.map((r) => r.role).sort();
    for (const r of roles) {
      await recordEvent(c, actor, { recordId: rec.id, partyId: party.id, kind: 'party_unlinked', field: `party:${party.key}`, oldValue: { party: party.key, role: r }, details: reason ? { reason } : null });
    }
    await c.query('UPDATE records SET updated_at = now() WHERE id = $1', [rec.id]);
    return { ref: rec.ref, party: party.key, roles };
  });
}

export interface PartyChanges { domains?: string[] | undefined; profile?: string | null | undefined; name?: string | undefined; emails?: string[] | undefined; addEmails?: string[] | undefined; removeEmails?: string[] | undefined; phone?: string | null | undefined; kind?: string | undefined }

/** Corrects a party's name, addresses, phone or kind; one audit event per changed setting. */
export async function editParty(db: Db, config: Config, actor: Actor, key: string, ch: PartyChanges): Promise<{ party: PartyRow; changed: string[] }> {
  return withTransaction(db, async (c) => {
    const prior = (await c.query<PartyRow>('SELECT * FROM parties WHERE key = $1 FOR UPDATE', [key.trim()])).rows[0];
    if (!prior) await getParty(c, key); // throws PARTY_NOT_FOUND with its hint
    const p = prior!;
    const lower = (list: string[] | undefined) => (list ?? []).map((e) => e.trim().toLowerCase()).filter(Boolean);
    let emails = ch.emails ? lower(ch.emails) : [...p.emails];
    const missing = lower(ch.removeEmails).filter((e) => !emails.includes(e));
    if (missing.length) throw new DossierError('PARTY_INVALID', `${p.key} has no address ${missing.join(', ')} to remove (it has: ${emails.join(', ') || 'none'}).`);
    emails = emails.filter((e) => !lower(ch.removeEmails).includes(e));
    emails = [...new Set([...emails, ...lower(ch.addEmails)])];
    const next = normalise({ key: p.key, kind: ch.kind ?? p.kind, name: ch.name ?? p.name, emails, phone: ch.phone === undefined ? p.phone : ch.phone });
    const problems = partyProblems(config, next);
    const profile = ch.profile === undefined ? p.profile : ch.profile?.trim() || null;
    if (profile !== null && !KEY.test(profile)) problems.push(`profile "${profile}" must be the name of a folder under templates/ (e.g. bank-sever)`);
    const domains = ch.domains ? [...new Set(lower(ch.domains))] : [...(p.domains ?? [])];
    // Loaded only here: the mail-authentication modules behind it stay out of every other command's start-up.
    if (ch.domains) problems.push(...(await import('../inbound/party-sender.js')).partyDomainProblems(domains));
    if (problems.length) throw new DossierError('PARTY_INVALID', `Party "${p.key}": ${problems.join('; ')}. Nothing was changed.`, { details: { problems } });
    const after = { ...next, profile, domains };
    const changed = (['kind', 'name', 'emails', 'phone', 'profile', 'domains'] as const).filter((f) => JSON.stringify(p[f] ?? null) !== JSON.stringify(after[f] ?? null));
    if (!changed.length) return { party: p, changed };
    const row = (await c.query<PartyRow>('UPDATE parties SET kind = $2, name = $3, emails = $4, phone = $5, profile = $6, domains = $7, updated_at = now() WHERE id = $1 RETURNING *', [p.id, next.kind, next.name, next.emails, next.phone ?? null, profile, domains])).rows[0]!;
    for (const f of changed) await recordEvent(c, actor, { partyId: p.id, kind: 'party_changed', field: f, oldValue: p[f] ?? null, newValue: row[f] ?? null });
    return { party: row, changed };
  });
}

export function checkRole(config: Config, role: string): void {
  if (!config.parties.roles.includes(role)) {
    throw new DossierError('ROLE_UNKNOWN', `"${role}" is not a role.`, { hint: `Roles: ${config.parties.roles.join(', ')} (parties.roles in the configuration).` });
  }
}

export async function recordParties(q: Queryable, recordId: number): Promise<LinkedParty[]> {
  return (
    await q.query<LinkedParty>(
      `SELECT p.*, rp.role FROM record_parties rp JOIN parties p ON p.id = rp.party_id WHERE rp.record_id = $1 ORDER BY rp.created_at, p.key`,
      [recordId],
    )
  ).rows;
}
