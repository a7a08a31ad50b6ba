import type { App } from '../app.js';
import { computeDue } from '../deadlines/due.js';
import { systemStatus } from '../ops/status.js';

// /metrics in the Prometheus text format (version 0.0.4): the figures of `dossier status` — job
// queue depths, outbox and SMS states, intake outcomes of the last day — plus the due items of
// `dossier due` by state and the portal journal by outcome. Read from the tables at each scrape.

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export async function metricsText(app: App): Promise<string> {
  const s = await systemStatus(app);
  const lines: string[] = [];
  const gauge = (name: string, help: string, rows: [Record<string, string>, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${label(x)}"`).join(',');
      lines.push(`${name}${l ? `{${l}}` : ''} ${v}`);
    }
  };
  gauge('dossier_queue_jobs', 'Jobs in each worker queue by state.', (s.queues ?? []).flatMap((q) => (['queued', 'deferred', 'active', 'failed'] as const).map((st): [Record<string, string>, number] => [{ queue: q.queue, state: st }, q[st]])));
  gauge('dossier_outbox_messages', 'Outgoing emails by delivery state.', Object.entries(s.outbox).map(([k, v]) => [{ state: k }, v]));
  gauge('dossier_sms_messages', 'Outgoing text messages by state.', Object.entries(s.sms).map(([k, v]) => [{ state: k }, v]));
  gauge('dossier_intake_messages_last_day', 'Incoming messages of the last 24 hours by outcome.', Object.entries(s.intake.lastDay).map(([k, v]) => [{ outcome: k }, v]));
  gauge('dossier_intake_pending', 'Journaled messages not processed yet.', [[{}, s.intake.pending.count]]);
  gauge('dossier_intake_quarantined', 'Messages in quarantine.', [[{}, s.intake.quarantined.total]]);
  const due = await computeDue(app).catch(() => []);
  const byState = new Map<string, number>([['overdue', 0], ['due_soon', 0], ['waiting', 0]]);
  for (const d of due) if (byState.has(d.state)) byState.set(d.state, byState.get(d.state)! + 1);
  gauge('dossier_due_items', 'Answers expected from counterparties by state.', [...byState].map(([k, v]) => [{ state: k }, v]));
  const portal = (await app.db.query<{ k: string; n: number }>(`SELECT coalesce(outcome, 'pending') AS k, count(*)::int AS n FROM portal_journal GROUP BY 1`)).rows;
  gauge('dossier_portal_journal', 'Files and messages received through the portal by outcome.', ['applied', 'refused', 'failed', 'pending'].map((k) => [{ outcome: k }, portal.find((r) => r.k === k)?.n ?? 0]));
  return lines.join('\n') + '\n';
}
