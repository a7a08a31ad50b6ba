import type { App } from '../app.js';
import { queueMail, type JobData, type QueueName } from '../db/queues.js';
import { runDeadlines } from '../deadlines/due.js';
import { processMessage, type IntakeResult } from '../inbound/process.js';
import { deliver, type OutboxRow } from '../outbound/outbox.js';
import { deliverSmsRow, type SmsGateway } from '../outbound/sms.js';
import type { Transport } from '../outbound/transports.js';
import { sendPackages } from '../packages/send.js';

// The job handlers, defined once: `dossier worker` runs them from pg-boss's work loop,
// `worker --until-idle` from its fetch loop. A handler never throws: it says whether the job is
// done (completed) or should go back to its queue (failed: pg-boss retries it after the queue's
// delay), and what to log.

export interface HandlerResult {
  status: 'completed' | 'failed';
  output: Record<string, unknown>;
  logs: { level: 'info' | 'warn' | 'error'; fields: Record<string, unknown>; message: string }[];
  /** A processed message (intake.process): what it caused is queued by the caller. */
  intake?: IntakeResult;
}

export type Handlers = { [Q in QueueName]: (data: JobData[Q]) => Promise<HandlerResult> };

const failed = (event: string, err: unknown, fields: Record<string, unknown>): HandlerResult => {
  const e = err as Error & { code?: string; hint?: string };
  return { status: 'failed', output: { code: e.code, error: e.message }, logs: [{ level: 'error', fields: { event, ...fields, outcome: 'failed', code: e.code, error: e.message, hint: e.hint }, message: `${event} ${JSON.stringify(fields)}: ${e.message}` }] };
};

export function jobHandlers(app: App, deps: { transport: Transport; sms: SmsGateway | null }): Handlers {
  return {
    async 'mail.send'({ outboxId: id }) {
      try {
        const outcome = await deliver(app, deps.transport, id);
        const row = (await app.db.query<Pick<OutboxRow, 'to_addresses' | 'subject' | 'last_response' | 'attempts'>>('SELECT to_addresses, subject, last_response, attempts FROM outbox WHERE id = $1', [id])).rows[0];
        const fields = { event: 'mail', outbox: id, outcome, to: row?.to_addresses, subject: row?.subject, attempts: row?.attempts, response: row?.last_response };
        const log =
          outcome === 'sent' ? { level: 'info' as const, fields, message: `outbox #${id} sent to ${row?.to_addresses.join(', ')}` }
          : outcome === 'failed' ? { level: 'error' as const, fields, message: `outbox #${id} failed: ${row?.last_response}` }
          : outcome === 'retry' ? { level: 'warn' as const, fields, message: `outbox #${id} will be retried: ${row?.last_response}` }
          : null;
        // A temporary failure fails the job, so that pg-boss retries it after the queue's delay.
        return { status: outcome === 'retry' ? 'failed' : 'completed', output: { outcome }, logs: log ? [log] : [] };
      } catch (err) {
        return failed('mail', err, { outbox: id });
      }
    },
    async 'sms.send'({ smsId: id }) {
      if (!deps.sms) return { status: 'completed', output: { outcome: 'no gateway' }, logs: [] };
      try {
        const outcome = await deliverSmsRow(app, deps.sms, id);
        const log = outcome === 'done' ? null : { level: outcome === 'sent' ? ('info' as const) : ('warn' as const), fields: { event: 'sms', sms: id, outcome, gateway: deps.sms.name }, message: `text message #${id}: ${outcome}` };
        return { status: outcome === 'retry' ? 'failed' : 'completed', output: { outcome }, logs: log ? [log] : [] };
      } catch (err) {
        return failed('sms', err, { sms: id });
      }
    },
    async 'intake.process'({ journalId }) {
      try {
        const r = await processMessage(app, journalId);
        return { status: 'completed', output: { outcome: r?.outcome ?? 'taken' }, logs: [], ...(r ? { intake: r } : {}) };
      } catch (err) {
        return failed('intake', err, { journal: journalId });
      }
    },
    // `pack send --background`: build and queue a record's packages here, in the name of who asked.
    async 'package.send'({ ref, recipients, actor }) {
      try {
        const mails = await sendPackages(app, actor, ref, { recipients });
        const logs = mails.map((m) => ({ level: 'info' as const, fields: { event: 'package', ref, recipient: m.recipient, outbox: m.outbox, attachment: m.attachment, bytes: m.bytes, by: actor.id }, message: `${ref}: package for ${m.recipient} queued (outbox #${m.outbox})` }));
        return { status: 'completed', output: { mails: mails.length }, logs };
      } catch (err) {
        return failed('package', err, { ref, recipients, by: actor.id });
      }
    },
    // Issue 17: reminders to silent counterparties and the daily digest (the worker's timer queues it).
    async 'deadlines.run'() {
      try {
        const r = await runDeadlines(app, { id: `worker:${process.pid}`, source: 'worker' });
        await queueMail(app.db, r.outbox);
        const logs = [
          ...r.reminders.filter((x) => x.outbox).map((x) => ({ level: 'info' as const, fields: { event: 'reminder', ref: x.ref, party: x.party, step: x.step, outbox: x.outbox }, message: `${x.ref}: reminder to ${x.party} (${x.step}) queued (outbox #${x.outbox})` })),
          ...(r.digest?.outbox ? [{ level: 'info' as const, fields: { event: 'digest', day: r.digest.day, outbox: r.digest.outbox, overdue: r.digest.overdue, dueSoon: r.digest.dueSoon }, message: `digest of ${r.digest.day} queued (outbox #${r.digest.outbox}): ${r.digest.overdue} overdue, ${r.digest.dueSoon} due soon` }] : []),
        ];
        return { status: 'completed', output: { reminders: r.reminders.filter((x) => x.outbox).length, digest: r.digest?.outbox ?? null }, logs };
      } catch (err) {
        return failed('deadlines', err, {});
      }
    },
  };
}
