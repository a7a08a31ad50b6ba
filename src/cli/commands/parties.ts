import type { Actor, App } from '../../app.js';
import { addParty, editParty, importParties, linkParty, listParties, type ImportResult, type PartyRow } from '../../records/parties.js';
import { getRecord } from '../../records/records.js';
import { DossierError } from '../../errors.js';
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
  // The name and addresses last: the column that wraps, so the table fits 80 columns.
  return formatTable(['key', 'kind', 'phone', 'name <emails>'], rows.map((p) => [p.key, p.kind, p.phone, p.emails.length ? `${p.name} <${p.emails.join(', ')}>` : p.name]));
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

export interface PartyEditOptions { domain?: string[]; name?: string; email?: string[]; addEmail?: string[]; removeEmail?: string[]; phone?: string; kind?: string; profile?: string }

/** `party edit`: corrects a party; only the settings given change, each change audited. */
export async function partyEdit(app: App, actor: Actor, key: string, o: PartyEditOptions) {
  const given = (l: string[] | undefined) => (l && l.length ? l : undefined);
  const ch = {
    name: o.name,
    emails: given(o.email),
    addEmails: given(o.addEmail),
    removeEmails: given(o.removeEmail),
    phone: o.phone === undefined ? undefined : o.phone.trim() === '' ? null : o.phone,
    kind: o.kind,
    profile: o.profile === undefined ? undefined : o.profile.trim() === '' ? null : o.profile,
    // --domain "" clears the list.
    domains: o.domain && o.domain.length ? o.domain.filter((d) => d.trim() !== '') : undefined,
  };
  if (Object.values(ch).every((v) => v === undefined)) {
    throw new DossierError('USAGE', 'Say what to change: --name, --email (replaces all), --add-email, --remove-email, --phone, --kind, --profile or --domain.', { hint: `dossier party edit ${key} --name "ООО «Новое имя»"` });
  }
  return editParty(app.db, app.config, actor, key, ch);
}

export const renderPartyEdit = (r: { party: PartyRow; changed: string[] }) =>
  r.changed.length ? `${r.party.key}: changed ${r.changed.join(', ')}.` : `${r.party.key}: nothing to change (the values given are the ones it has).`;
