import type { App } from '../../app.js';
import { createLogger } from '../../jobs/log.js';
import { startWorker } from '../../jobs/service.js';
import { runUntilIdle, type IdleReport } from '../../jobs/worker.js';
import { onStop } from '../session.js';
import { formatTime, type Io } from '../output.js';

// `pack`, `share` and `outbox` moved to pack.ts and outbox.ts (issue 16).

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
