import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import path from 'node:path';
import type { App } from '../../app.js';
import { getJournal, listJournal } from '../../inbound/journal.js';
import { ingest, replay } from '../../inbound/ingest.js';
import { parseMessage } from '../../inbound/parse.js';
import type { IntakeResult } from '../../inbound/process.js';
import { DossierError } from '../../errors.js';
import { formatBytes, formatTable, formatTime } from '../output.js';

export async function mailIngest(app: App, files: string[]) {
  const inputs: { name: string; raw: Buffer }[] = [];
  if (!files.length) inputs.push({ name: 'stdin', raw: await buffer(process.stdin) });
  for (const f of files) {
    try {
      inputs.push({ name: path.basename(f), raw: await readFile(f) });
    } catch (err) {
      throw new DossierError('FILE_NOT_FOUND', `Cannot read ${f}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}.`);
    }
  }
  const out: (IntakeResult & { file: string; duplicate: boolean })[] = [];
  for (const i of inputs) out.push({ ...(await ingest(app, i.raw, i.name)), file: i.name });
  return out;
}

export const renderIngest = (rows: Awaited<ReturnType<typeof mailIngest>>) =>
  rows.map((r) => `${r.file}: #${r.id} ${r.outcome}${r.ref ? ` (${r.ref})` : ''} — ${r.reason}${r.outbox.length ? `\n  ${r.outbox.length} email(s) queued: dossier worker --until-idle sends them` : ''}`).join('\n');

export async function mailList(app: App, o: { outcome?: string | undefined }) {
  return listJournal(app.db, { outcome: o.outcome });
}

export const renderMailList = (rows: Awaited<ReturnType<typeof mailList>>) =>
  rows.length
    ? formatTable(['#', 'received', 'mailbox', 'from', 'subject', 'outcome', 'record', 'reason'], rows.map((r) => [r.id, formatTime(r.received_at), r.mailbox, r.from_address, (r.subject ?? '').slice(0, 50), r.outcome ?? 'pending', r.ref, (r.reason ?? '').slice(0, 90)]))
    : 'The journal is empty.';

export async function mailShow(app: App, id: string) {
  const n = Number(id);
  if (!Number.isInteger(n) || n <= 0) throw new DossierError('USAGE', `"${id}" is not a journal number.`, { hint: 'See `dossier mail list`.' });
  const row = await getJournal(app.db, n);
  const m = await parseMessage(await buffer(await app.blobs.open(row.sha256)), app.config.intake.limits);
  return {
    journal: row,
    parsed: {
      from: m.from,
      to: m.to,
      subject: m.subject,
      date: m.date,
      ownText: m.ownText,
      forwarded: m.forwarded ? { from: m.forwarded.from, subject: m.forwarded.subject, date: m.forwarded.date, kind: m.forwarded.kind } : null,
      attachments: m.attachments.map((a) => ({ file: a.fileName, type: a.contentType, size: a.size })),
      auto: m.auto,
      warnings: m.warnings,
    },
  };
}

export function renderMailShow(v: Awaited<ReturnType<typeof mailShow>>): string {
  const j = v.journal;
  const p = v.parsed;
  return [
    `#${j.id}  ${j.outcome ?? 'pending'} — ${j.reason ?? ''}`,
    `  mailbox   ${j.mailbox}${j.uid ? ` uid ${j.uid} (uidvalidity ${j.uidvalidity})` : ''}${j.source_ref ? ` ${j.source_ref}` : ''}`,
    `  received  ${formatTime(j.received_at)}; ${formatBytes(j.size)}; sha256 ${j.sha256.slice(0, 16)}…`,
    `  from      ${p.from ? `${p.from.name} <${p.from.address}>` : '—'}`,
    `  subject   ${p.subject}`,
    p.forwarded ? `  forwarded ${p.forwarded.kind}: from ${p.forwarded.from?.address ?? '?'} «${p.forwarded.subject ?? ''}»` : '',
    p.attachments.length ? `  files     ${p.attachments.map((a) => `${a.file} (${a.type}, ${formatBytes(a.size)})`).join('; ')}` : '',
    p.warnings.length ? `  warnings  ${p.warnings.join('; ')}` : '',
    '',
    p.ownText.trim() || '(no text)',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

export async function mailReplay(app: App, id: string, o: { force?: boolean | undefined }) {
  return replay(app, Number(id), { force: Boolean(o.force) });
}
