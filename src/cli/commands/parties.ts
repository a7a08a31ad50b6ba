import type { Actor, App } from '../../app.js';
import { addParty, importParties, linkParty, listParties, type ImportResult, type PartyRow } from '../../records/parties.js';
import { getRecord } from '../../records/records.js';
import { formatTable } from '../output.js';

export interface PartyAddOptions { key: string; kind: string; name: string; email: string[]; phone?: string | undefined }

export async function partyAdd(app: App, actor: Actor, o: PartyAddOptions): Promise<PartyRow> {
  return addParty(app.db, app.config, actor, { key: o.key, kind: o.kind, name: o.name, emails: o.email, phone: o.phone });
}

export async function partyList(app: App, opts: { kind?: string | undefined }): Promise<PartyRow[]> {
  return listParties(app.db, opts);
}

export function renderParties(rows: PartyRow[]): string {
  if (!rows.length) return 'No parties.';
  return formatTable(['key', 'kind', 'name', 'emails', 'phone'], rows.map((p) => [p.key, p.kind, p.name, p.emails.join(', '), p.phone]));
}

export async function partyImport(app: App, actor: Actor, file: string, opts: { update?: boolean | undefined; encoding?: string | undefined; onNote?: (line: string) => void }): Promise<ImportResult> {
  return importParties(app.db, app.config, actor, file, { update: Boolean(opts.update), encoding: opts.encoding, ...(opts.onNote ? { onNote: opts.onNote } : {}) });
}

export function renderImport(r: ImportResult): string {
  return `Imported ${r.added.length} new part${r.added.length === 1 ? 'y' : 'ies'}, updated ${r.updated.length}.`;
}

export async function recordLink(app: App, actor: Actor, o: { ref: string; party: string; role: string }) {
  const { created } = await linkParty(app.db, app.config, actor, o.ref, o.party, o.role);
  const rec = await getRecord(app.db, o.ref);
  return { ref: rec.ref, party: o.party, role: o.role, created };
}
