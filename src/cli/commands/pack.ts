import path from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Actor, App } from '../../app.js';
import { DossierError, isDossierError } from '../../errors.js';
import { buildPackages, recipientsFor, type BuiltPackage } from '../../packages/build.js';
import { incomplete, queuePackages, sendPackageSet, share, type SendReport, type SentMail } from '../../packages/send.js';
import { getRecord } from '../../records/records.js';
import { formatBytes, formatTable, formatTime, type Io } from '../output.js';

// `pack build`, `pack send`, `share`: every recipient that can be built or sent is, each failure is
// reported with its reason, and the command exits non-zero when any recipient failed.

type Which = { recipient?: string | undefined; all?: boolean | undefined };

function which(o: Which): string[] | 'all' {
  if (o.all && o.recipient) throw new DossierError('USAGE', 'Give either --recipient or --all, not both.');
  if (o.all) return 'all';
  if (o.recipient) return [o.recipient];
  throw new DossierError('USAGE', 'Say whom the package is for: --recipient <party> or --all.', { hint: 'dossier pack build DL-2026-00001 --all' });
}

/** A progress bar on a terminal (stderr), nothing otherwise. */
function progress(io: Io, json: boolean) {
  if (!io.isTty || json) return { update: undefined, stop: () => {} };
  const bar = new SingleBar({ format: '{recipient} [{bar}] {percentage}% {value}/{total} MiB', stream: process.stderr, hideCursor: true, clearOnComplete: true });
  let current = '';
  return {
    update: (recipient: string, done: number, total: number) => {
      const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;
      if (recipient !== current) {
        if (current) bar.stop();
        bar.start(mib(total), 0, { recipient });
        current = recipient;
      }
      bar.update(mib(done), { recipient });
    },
    stop: () => bar.stop(),
  };
}

export interface BuiltRow { recipient: string; name: string; files: number; omitted: string[]; parts: { file: string; size: number; sha256: string; package: number }[] }
export interface BuildFailure { recipient: string; code: string; message: string }

/**
 * Builds each recipient's package on its own, so that one recipient's problem (no profile, a value
 * missing for its forms) stops only that one; prints what was built, then fails naming each failure.
 */
export async function packBuild(app: App, actor: Actor, io: Io, json: boolean, ref: string, o: Which & { out?: string | undefined }, print: (built: BuiltRow[]) => void): Promise<void> {
  const record = await getRecord(app.db, ref);
  const recipients = await recipientsFor(app, record, which(o));
  const p = progress(io, json);
  const built: BuiltRow[] = [];
  const failed: BuildFailure[] = [];
  try {
    for (const party of recipients) {
      try {
        const [b] = await buildPackages(app, actor, record.ref, { recipients: [party.key], outDir: o.out ? path.resolve(o.out) : undefined, onProgress: p.update });
        built.push(row(b!));
      } catch (err) {
        if (!isDossierError(err)) throw err;
        failed.push({ recipient: party.key, code: err.code, message: err.message + (err.hint ? ` (${err.hint})` : '') });
      }
    }
  } finally {
    p.stop();
  }
  if (built.length) print(built);
  if (failed.length) {
    if (failed.length === 1 && recipients.length === 1) throw new DossierError(failed[0]!.code as never, failed[0]!.message);
    throw new DossierError('PACKAGES_INCOMPLETE', `${record.ref}: ${failed.length} of ${recipients.length} package(s) could not be built${built.length ? ` (the other ${built.length} were)` : ''}:\n  - ${failed.map((f) => `${f.recipient}: ${f.code} ${f.message}`).join('\n  - ')}`, {
      hint: 'Fix each one and build it again with --recipient <party>.',
      details: { built, failed },
    });
  }
}

const row = (b: BuiltPackage): BuiltRow => ({
  recipient: b.recipient,
  name: b.recipientName,
  files: b.manifest.files.length,
  omitted: b.omitted.map((x) => x.file),
  parts: b.parts.map((x) => ({ file: x.path, size: x.size, sha256: x.sha256, package: x.packageId })),
});

export const renderPackBuild = (rows: BuiltRow[]) =>
  formatTable(['recipient', 'files', 'zip', 'size'], rows.flatMap((r) => r.parts.map((x) => [r.recipient, r.files, path.basename(x.file), formatBytes(x.size)])), { shrink: [2] }) +
  (rows[0] ? `\nIn ${path.dirname(path.dirname(rows[0].parts[0]!.file))}/<recipient>/.` : '') +
  rows.filter((r) => r.omitted.length).map((r) => `\nwarning: ${r.recipient}: left out (too big for one email to it): ${r.omitted.join(', ')}`).join('');

export async function packSendBackground(app: App, actor: Actor, ref: string, o: Which & { dryRun?: boolean | undefined; again?: boolean | undefined }) {
  if (o.dryRun) throw new DossierError('USAGE', 'A dry run shows what would be sent right here: drop --background.');
  if (o.again) throw new DossierError('USAGE', 'Send again right here: drop --background.', { hint: 'A background job never sends a package twice.' });
  return queuePackages(app, actor, ref, which(o));
}

export const renderQueuedPackages = (r: { ref: string; recipients: string[] | 'all'; job: string | null }) =>
  r.job
    ? `Queued: the packages of ${r.ref} for ${r.recipients === 'all' ? 'every recipient' : r.recipients.join(', ')}. A running \`dossier worker\` builds and sends them; \`dossier record history ${r.ref}\` shows when.`
    : `The same request for ${r.ref} is already waiting for a worker; nothing more was queued.`;

/**
 * `pack send`: prints what was queued (or would be), each recipient skipped or rebuilt and why, then
 * fails if any recipient failed, or if every one was skipped as already sent.
 */
export async function packSend(app: App, actor: Actor, io: Io, json: boolean, ref: string, o: Which & { dryRun?: boolean | undefined; again?: boolean | undefined }, print: (r: SendReport) => void): Promise<void> {
  const p = progress(io, json);
  let report: SendReport;
  try {
    report = await sendPackageSet(app, actor, ref, { recipients: which(o), dryRun: Boolean(o.dryRun), again: Boolean(o.again), onProgress: p.update });
  } finally {
    p.stop();
  }
  if (report.mails.length) print(report);
  if (report.recipients.some((r) => r.outcome === 'failed')) throw incomplete(report);
  if (!report.mails.length) {
    const skipped = report.recipients.filter((r) => r.outcome === 'skipped');
    throw new DossierError('PACKAGE_ALREADY_SENT', `Nothing was ${report.dryRun ? 'to be ' : ''}sent: ${skipped.map(skipNote).join('; ')}.`, {
      hint: `To send the same package again, add --again (\`dossier outbox list --ref ${report.ref}\` shows what went out).`,
      details: report,
    });
  }
}

const skipNote = (r: SendReport['recipients'][number]) =>
  `${r.recipient}'s package ${r.earlier!.status === 'sent' ? 'was sent' : r.earlier!.status === 'queued' ? 'is queued since' : 'is being sent since'} ${formatTime(r.earlier!.at)} (outbox #${r.earlier!.outbox})`;

export function renderSent(r: SendReport): string {
  const lines = [
    formatTable(['outbox', 'recipient', 'attachment', 'size'], r.mails.map((m) => [m.outbox ?? '(dry run)', m.recipient, m.attachment, formatBytes(m.bytes)]), { shrink: [2] }),
  ];
  for (const x of r.recipients) {
    if (x.build === 'rebuilt') lines.push(`${x.recipient}: built again, because since the last build ${x.changes!.join('; ')}.`);
    if (x.build === 'reused') lines.push(`${x.recipient}: the package built before (nothing changed since).`);
    if (x.outcome === 'skipped') lines.push(`${x.recipient}: skipped, ${skipNote(x).replace(/^\S+ package /, 'its package ')}; --again sends it again.`);
    for (const o of x.omitted ?? []) lines.push(`warning: ${x.recipient}: ${o.file} (${formatBytes(o.size)}) left out, too big for one email to it (${formatBytes(o.limit)} of files).`);
  }
  if (r.status && 'to' in r.status) lines.push(`${r.ref}: status ${r.status.from} → ${r.status.to}.`);
  if (r.status && 'stays' in r.status) lines.push(`${r.ref}: status stays ${r.status.stays} (${r.status.why}).`);
  lines.push(r.dryRun ? 'Dry run: nothing was queued or recorded.' : `Queued ${r.mails.length} email(s); \`dossier worker --until-idle\` sends them (or a running worker).`);
  return lines.join('\n');
}

/** The emails alone (pack send --json, share --json): what scripts read. */
export const sentMails = (r: SendReport): SentMail[] => r.mails;

export async function shareCmd(app: App, actor: Actor, ref: string, o: { email: string; role: string; name?: string | undefined }) {
  return share(app, actor, ref, o);
}

export const renderShare = (r: Awaited<ReturnType<typeof share>>) =>
  `${r.created ? 'Created' : 'Found'} party ${r.party}.\n` +
  formatTable(['outbox', 'to', 'attachment', 'size'], r.mails.map((m) => [m.outbox, m.to.join(', '), m.attachment, formatBytes(m.bytes)]), { shrink: [1, 2] }) +
  `\nQueued ${r.mails.length} email(s); \`dossier worker --until-idle\` sends them (or a running worker).`;
