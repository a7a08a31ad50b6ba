import path from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Actor, App } from '../../app.js';
import { createLogger } from '../../jobs/log.js';
import { startWorker } from '../../jobs/service.js';
import { runUntilIdle, type IdleReport } from '../../jobs/worker.js';
import { onStop } from '../session.js';
import { listOutbox, retryOutbox } from '../../outbound/outbox.js';
import { buildPackages } from '../../packages/build.js';
import { queuePackages, sendPackages, share, type SentMail } from '../../packages/send.js';
import { DossierError } from '../../errors.js';
import { formatBytes, formatTable, formatTime, type Io } from '../output.js';

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

export async function packBuild(app: App, actor: Actor, io: Io, json: boolean, ref: string, o: Which & { out?: string | undefined }) {
  const p = progress(io, json);
  try {
    const built = await buildPackages(app, actor, ref, { recipients: which(o), outDir: o.out ? path.resolve(o.out) : undefined, onProgress: p.update });
    return built.map((b) => ({ recipient: b.recipient, name: b.recipientName, files: b.manifest.files.length, parts: b.parts.map((x) => ({ file: x.path, size: x.size, sha256: x.sha256, package: x.packageId })) }));
  } finally {
    p.stop();
  }
}

export const renderPackBuild = (rows: Awaited<ReturnType<typeof packBuild>>) =>
  formatTable(['recipient', 'files', 'zip', 'size', 'sha256'], rows.flatMap((r) => r.parts.map((x) => [r.recipient, r.files, x.file, formatBytes(x.size), x.sha256.slice(0, 12)])));

export async function packSendBackground(app: App, actor: Actor, ref: string, o: Which & { dryRun?: boolean | undefined }) {
  if (o.dryRun) throw new DossierError('USAGE', 'A dry run shows what would be sent right here: drop --background.');
  return queuePackages(app, actor, ref, which(o));
}

export const renderQueuedPackages = (r: { ref: string; recipients: string[] | 'all'; job: string | null }) =>
  r.job
    ? `Queued: the packages of ${r.ref} for ${r.recipients === 'all' ? 'every recipient' : r.recipients.join(', ')}. A running \`dossier worker\` builds and sends them; \`dossier record history ${r.ref}\` shows when.`
    : `The same request for ${r.ref} is already waiting for a worker; nothing more was queued.`;

export async function packSend(app: App, actor: Actor, io: Io, json: boolean, ref: string, o: Which & { dryRun?: boolean | undefined }) {
  const p = progress(io, json);
  try {
    return await sendPackages(app, actor, ref, { recipients: which(o), dryRun: Boolean(o.dryRun), onProgress: p.update });
  } finally {
    p.stop();
  }
}

export function renderSent(mails: SentMail[]): string {
  const dry = mails.every((m) => m.outbox === null);
  return (
    formatTable(['outbox', 'recipient', 'to', 'subject', 'attachment', 'size'], mails.map((m) => [m.outbox ?? '(dry run)', m.recipient, m.to.join(', '), m.subject, m.attachment, formatBytes(m.bytes)])) +
    (dry ? '\nDry run: nothing was queued.' : `\nQueued ${mails.length} email(s); \`dossier worker --until-idle\` sends them (or a running worker).`)
  );
}

export async function shareCmd(app: App, actor: Actor, ref: string, o: { email: string; role: string; name?: string | undefined }) {
  return share(app, actor, ref, o);
}

export const renderShare = (r: Awaited<ReturnType<typeof share>>) => `${r.created ? 'Created' : 'Found'} party ${r.party}.\n${renderSent(r.mails)}`;

export async function outboxList(app: App, o: { status?: string | undefined; ref?: string | undefined }) {
  return listOutbox(app, o);
}

export const renderOutbox = (rows: Awaited<ReturnType<typeof outboxList>>) =>
  rows.length
    ? formatTable(
        ['#', 'record', 'kind', 'to', 'subject', 'status', 'tries', 'last response', 'updated'],
        rows.map((r) => [r.id, r.ref, r.kind, r.to_addresses.join(', '), r.subject.length > 60 ? r.subject.slice(0, 59) + '…' : r.subject, r.status + (r.status === 'queued' && r.next_attempt_at ? ` (next ${formatTime(r.next_attempt_at)})` : ''), r.attempts, r.last_response, formatTime(r.updated_at)]),
      )
    : 'The outbox is empty.';

export async function outboxRetry(app: App, actor: Actor, id: string) {
  const n = Number(id);
  if (!Number.isInteger(n) || n <= 0) throw new DossierError('USAGE', `"${id}" is not an outbox message number.`, { hint: 'See `dossier outbox list`.' });
  return retryOutbox(app, actor, n);
}

export async function workerUntilIdle(app: App, io: Io): Promise<IdleReport> {
  return runUntilIdle(app, (l) => io.err(l));
}

/** The long-running worker: JSON log lines on standard output until SIGTERM/SIGINT. */
export async function workerForever(app: App, io: Io): Promise<void> {
  const handle = await startWorker(app, createLogger((line) => io.out(line)));
  const unregister = onStop(handle.stop);
  try {
    await handle.stopped;
  } finally {
    unregister();
  }
}

export const renderIdle = (r: IdleReport) => {
  const inbound = Object.entries(r.received).map(([o, n]) => `${n} ${o}`).join(', ');
  return (
    (inbound ? `Received: ${inbound}. ` : '') +
    `Sent ${r.sent}, failed ${r.failed}, to retry ${r.retrying}.` +
    (r.sms ? ` SMS sent: ${r.sms}.` : '') +
    (r.waiting ? ` ${r.waiting} message(s) waiting${r.nextAttemptAt ? ` (next attempt ${formatTime(r.nextAttemptAt)})` : ''}.` : ' Nothing left to do.') +
    (r.mailboxErrors.length ? `\nMailbox errors: ${r.mailboxErrors.join('; ')}` : '')
  );
};
