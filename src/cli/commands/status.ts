import type { App } from '../../app.js';
import { systemStatus, type StatusReport } from '../../ops/status.js';
import { formatTable, formatTime } from '../output.js';

export async function status(app: App): Promise<StatusReport> {
  return systemStatus(app);
}

const counts = (c: Record<string, number>) => Object.entries(c).map(([k, n]) => `${k} ${n}`).join(' · ');
const when = (d: Date | null) => (d ? formatTime(d) : '—');

export function renderStatus(s: StatusReport): string {
  const parts: string[] = [];
  parts.push(
    s.queues === null
      ? 'Queues: no pg-boss schema yet (no worker has run against this database).'
      : s.queues.length
        ? `Queues (pg-boss)\n${formatTable(['queue', 'queued', 'deferred', 'active', 'failed', 'completed'], s.queues.map((q) => [q.queue, q.queued, q.deferred, q.active, q.failed, q.completed]))}`
        : 'Queues: none yet.',
  );
  const { pending, quarantined } = s.intake;
  parts.push(
    formatTable(
      ['', ''],
      [
        ['Outbox', counts(s.outbox)],
        ['SMS outbox', counts(s.sms)],
        ['Mail in, last 24 h', counts(s.intake.lastDay)],
        ['Quarantined', `${quarantined.lastDay} in the last 24 h, ${quarantined.total} in all`],
        ['Partial (files not taken)', `${s.intake.partial.lastDay} in the last 24 h, ${s.intake.partial.total} in all`],
        ['Unreadable files', `${s.intake.unreadable.lastDay} in the last 24 h, ${s.intake.unreadable.total} in all${s.intake.unreadable.total ? ' (dossier mail list --outcome quarantined)' : ''}`],
        ['Unprocessed', pending.count ? `${pending.count} (oldest received ${when(pending.oldest)})` : '0'],
      ],
    )
      .split('\n')
      .slice(2) // no header for a list of labels
      .join('\n'),
  );
  parts.push(
    s.mailboxes.length
      ? `Mailboxes\n${formatTable(['mailbox', 'last poll', 'last success', 'last error'], s.mailboxes.map((m) => [m.mailbox + (m.configured ? '' : ' (not configured)'), m.lastPollAt ? when(m.lastPollAt) : 'never', when(m.lastOkAt), m.lastError ?? '']))}`
      : 'Mailboxes: none configured (intake.mailboxes).',
  );
  return parts.join('\n\n');
}
