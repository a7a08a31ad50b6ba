import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import type { App } from '../app.js';
import type { Queryable } from '../db/pool.js';

// Text messages to clients through a pluggable gateway: a file per message (the embedded default)
// or an HTTP request built from a template (most Russian SMS providers take a JSON or form POST).
// Queued in sms_outbox inside the transaction that decides them; the worker sends them.

export async function queueSms(q: Queryable, m: { recordId: number | null; partyId: number | null; to: string; body: string }): Promise<number> {
  return (await q.query<{ id: number }>('INSERT INTO sms_outbox (record_id, party_id, to_phone, body) VALUES ($1, $2, $3, $4) RETURNING id', [m.recordId, m.partyId, m.to, m.body])).rows[0]!.id;
}

/** Where the file gateway writes its text messages. */
export function smsDir(app: App): string {
  const s = app.config.notifications.sms;
  return s.fileDir ? path.resolve(s.fileDir) : path.join(app.home, 'sms');
}

export interface SmsGateway { name: string; send(to: string, text: string, id: number): Promise<string> }

export function smsGateway(app: App): SmsGateway | null {
  const s = app.config.notifications.sms;
  if (s.gateway === 'none') return null;
  if (s.gateway === 'file') {
    const dir = smsDir(app);
    return {
      name: 'file',
      async send(to, text, id) {
        await mkdir(dir, { recursive: true });
        const file = path.join(dir, `${String(id).padStart(6, '0')}.txt`);
        await writeFile(`${file}.tmp`, `To: ${to}\n\n${text}\n`);
        await rename(`${file}.tmp`, file);
        return `written to ${file}`;
      },
    };
  }
  const hb = Handlebars.create();
  hb.registerHelper('json', (v: unknown) => new hb.SafeString(JSON.stringify(v ?? null)));
  const body = hb.compile(s.body, { noEscape: true });
  return {
    name: 'http',
    async send(to, text) {
      const res = await fetch(s.url!, { method: 'POST', headers: { 'content-type': 'application/json', ...s.headers }, body: body({ to, text }), signal: AbortSignal.timeout(15_000) });
      const reply = (await res.text()).slice(0, 500);
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}: ${reply}`), { permanent: res.status >= 400 && res.status < 500 && res.status !== 429 });
      return `HTTP ${res.status}: ${reply}`;
    },
  };
}

export type SmsOutcome = 'sent' | 'retry' | 'failed' | 'done';

const MAX_SMS_ATTEMPTS = 5;

/** One attempt at one queued text message (the long-running worker runs one job per row). */
export async function deliverSmsRow(app: App, gw: SmsGateway, id: number): Promise<SmsOutcome> {
  const row = (
    await app.db.query<{ id: number; to_phone: string; body: string; attempts: number }>(
      `UPDATE sms_outbox SET attempts = attempts + 1 WHERE id = (SELECT id FROM sms_outbox WHERE id = $1 AND status = 'queued' FOR UPDATE SKIP LOCKED) RETURNING id, to_phone, body, attempts`,
      [id],
    )
  ).rows[0];
  if (!row) return 'done'; // sent, failed for good, or being sent by another worker
  try {
    const r = await gw.send(row.to_phone, row.body, row.id);
    await app.db.query(`UPDATE sms_outbox SET status = 'sent', sent_at = now(), last_response = $2 WHERE id = $1`, [row.id, r]);
    return 'sent';
  } catch (err) {
    const permanent = (err as { permanent?: boolean }).permanent === true || row.attempts >= MAX_SMS_ATTEMPTS;
    await app.db.query(`UPDATE sms_outbox SET status = $3, last_response = $2 WHERE id = $1`, [row.id, (err as Error).message, permanent ? 'failed' : 'queued']);
    return permanent ? 'failed' : 'retry';
  }
}

/** Sends what is queued; a temporary failure leaves the message queued for the next run. */
export async function deliverSms(app: App): Promise<{ sent: number; failed: number }> {
  const gw = smsGateway(app);
  const counts = { sent: 0, failed: 0 };
  if (!gw) return counts;
  const ids = (await app.db.query<{ id: number }>(`SELECT id FROM sms_outbox WHERE status = 'queued' AND attempts < $1 ORDER BY id`, [MAX_SMS_ATTEMPTS])).rows;
  for (const { id } of ids) {
    const outcome = await deliverSmsRow(app, gw, id);
    if (outcome === 'sent') counts.sent++;
    else if (outcome === 'failed') counts.failed++;
    else if (outcome === 'retry') return counts; // the gateway is down: try again on the next run
  }
  return counts;
}
