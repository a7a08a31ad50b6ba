import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import path from 'node:path';
import type { App } from '../../app.js';
import { getJournal } from '../../inbound/journal.js';
import { listMail } from '../../inbound/journal-list.js';
import { parseSince } from './report.js';
import { ingestFiles, replay, type FileMessage } from '../../inbound/ingest.js';
import { parseMessage } from '../../inbound/parse.js';
import type { IntakeResult } from '../../inbound/process.js';
import { DossierError } from '../../errors.js';
import { formatBytes, formatTable, formatTime } from '../output.js';

export async function mailIngest(app: App, files: string[]) {
  const inputs: { name: string; raw: Buffer | null; error?: string }[] = [];
  if (!files.length) inputs.push({ name: 'stdin', raw: await buffer(process.stdin) });
  for (const f of files) {
    try {
      inputs.push({ name: path.basename(f), raw: await readFile(f) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      inputs.push({ name: path.basename(f), raw: null, error: code === 'ENOENT' ? `no such file (${f})` : code === 'EISDIR' ? `${f} is a directory` : `cannot read ${f}: ${(err as Error).message}` });
    }
  }
  return ingestFiles(app, inputs);
}

export function renderIngest(rows: FileMessage[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    if (r.parts > 1 && r.part === 1) lines.push(`${r.file}: an mbox file with ${r.parts} messages`);
    const name = r.parts > 1 ? `  ${r.part} of ${r.parts}` : r.file;
    const id = r.id === null ? 'not taken in' : `#${r.id} ${r.outcome}`;
    lines.push(`${name}: ${id}${r.ref ? ` (${r.ref})` : ''} — ${r.reason}${r.outbox.length ? `\n  ${r.outbox.length} email(s) queued: dossier worker --until-idle sends them` : ''}`);
  }
  const bad = rows.filter((r) => r.outcome === 'failed').length;
  if (rows.length > 1) lines.push(`${rows.length} message(s) from ${new Set(rows.map((r) => r.file)).size} file(s)${bad ? `; ${bad} failed` : ''}.`);
  return lines.join('\n');
}

/** After the report is printed: a non-zero exit when any file or message failed. */
export function failIfIngestFailed(rows: FileMessage[]): void {
  const bad = rows.filter((r) => r.outcome === 'failed');
  if (!bad.length) return;
  const names = [...new Set(bad.map((r) => (r.parts > 1 ? `${r.file} (message ${r.part})` : r.file)))];
  throw new DossierError('MAIL_INGEST_FAILED', `${bad.length} of ${rows.length} message(s) failed: ${names.join(', ')}.`, {
    hint: 'Each line above says why; the others were taken in. Fix or remove the failed files and run again (a message already taken in is not taken twice).',
    details: { failed: names },
  });
}

export interface MailListOptions { outcome?: string | undefined; since?: string | undefined; mailbox?: string | undefined; record?: string | undefined; before?: string | undefined; limit?: string | undefined }

export async function mailList(app: App, o: MailListOptions) {
  const num = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new DossierError('USAGE', `${flag} must be a whole number, not "${v}".`);
    return n;
  };
  return listMail(app.db, {
    outcome: o.outcome,
    since: o.since === undefined ? undefined : parseSince(o.since),
    mailbox: o.mailbox,
    record: o.record,
    before: num('--before', o.before),
    limit: num('--limit', o.limit),
  });
}

/** The files a message dropped, shortly: "scan.pdf (26.2 MB, over…); +3 more". */
const notTaken = (d: { file: string; reason: string }[] | null) => (d?.length ? `${d.slice(0, 2).map((x) => `${x.file} (${x.reason})`).join('; ').slice(0, 120)}${d.length > 2 ? `; +${d.length - 2} more` : ''}` : '');

export const renderMailList = (page: Awaited<ReturnType<typeof mailList>>) =>
  page.rows.length
    ? formatTable(['#', 'received', 'mailbox', 'from', 'subject', 'outcome', 'record', 'reason', 'not taken'], page.rows.map((r) => [r.id, formatTime(r.received_at), r.mailbox, r.from_address, (r.subject ?? '').slice(0, 50), r.outcome ?? 'pending', r.ref, (r.reason ?? '').slice(0, 90), notTaken(r.dropped)])) +
      `\n${page.rows.length} of ${page.total} message(s)` +
      (page.nextBefore !== null ? `; the next page: add --before ${page.nextBefore}` : '')
    : page.total ? 'No more messages.' : 'No journaled message matches.';

export async function mailShow(app: App, id: string) {
  const n = Number(id);
  if (!Number.isInteger(n) || n <= 0) throw new DossierError('USAGE', `"${id}" is not a journal number.`, { hint: 'See `dossier mail list`.' });
  const row = await getJournal(app.db, n);
  if (!row.sha256) return { journal: row, parsed: null };
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
      fromCount: m.fromCount,
      outlookMsg: m.outlookMsg,
      bounce: m.bounce ? { original: m.bounce.originalMessageId, returnedSubject: m.bounce.returnedSubject, deliveries: m.bounce.deliveries } : null,
      warnings: m.warnings,
    },
  };
}

export function renderMailShow(v: Awaited<ReturnType<typeof mailShow>>): string {
  const j = v.journal;
  const p = v.parsed;
  const dropped = j.dropped?.length ? `  not taken ${j.dropped.map((d) => `${d.file}: ${d.reason}`).join('; ')}` : '';
  if (!p) return [`#${j.id}  ${j.outcome ?? 'pending'} — ${j.reason ?? ''}`, `  mailbox   ${j.mailbox}${j.source_ref ? ` ${j.source_ref}` : ''}`, `  unreadable ${j.unreadable ?? ''}`, j.from_address ? `  from      ${j.from_address}` : '', j.subject ? `  subject   ${j.subject}` : ''].filter(Boolean).join('\n');
  return [
    `#${j.id}  ${j.outcome ?? 'pending'} — ${j.reason ?? ''}`,
    `  mailbox   ${j.mailbox}${j.uid ? ` uid ${j.uid} (uidvalidity ${j.uidvalidity})` : ''}${j.source_ref ? ` ${j.source_ref}` : ''}`,
    `  received  ${formatTime(j.received_at)}; ${formatBytes(j.size)}; sha256 ${(j.sha256 ?? '').slice(0, 16)}…`,
    `  from      ${p.from ? `${p.from.name} <${p.from.address}>` : '—'}`,
    `  subject   ${p.subject}`,
    p.forwarded ? `  forwarded ${p.forwarded.kind}: from ${p.forwarded.from?.address ?? '?'} «${p.forwarded.subject ?? ''}»` : '',
    p.bounce ? `  report    ${p.bounce.deliveries.map((d) => `${d.address} ${d.action}${d.status ? ` ${d.status}` : ''}`).join('; ') || 'no recipient found'} (our message ${p.bounce.original ?? p.bounce.returnedSubject ?? 'not found'})` : '',
    p.attachments.length ? `  files     ${p.attachments.map((a) => `${a.file} (${a.type}, ${formatBytes(a.size)})`).join('; ')}` : '',
    dropped,
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
