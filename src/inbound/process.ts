import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import type { Actor, App } from '../app.js';
import { isTransientDbError, withTransaction, type DbClient } from '../db/pool.js';
import { renderData } from '../documents/render.js';
import { renderText } from '../documents/text.js';
import type { RenderData } from '../documents/evaluate.js';
import { DossierError } from '../errors.js';
import { enqueueMail, type OutboxRow } from '../outbound/outbox.js';
import { tokenSecret } from '../outbound/settings.js';
import { queueSms } from '../outbound/sms.js';
import { subjectTag, verifyToken } from '../outbound/tokens.js';
import { recordEvent } from '../records/events.js';
import { recordParties, type LinkedParty } from '../records/parties.js';
import { changeStatusIn, getRecord, transitionAllowed, type RecordRow } from '../records/records.js';
import { route, type Route, type RoutingFacts } from '../routing/route.js';
import { parseStatusReply, type StatusCommand } from '../routing/status-reply.js';
import { applyAssignments, recordSchemaContext } from '../schemas/fields.js';
import { sniffBuffer } from '../storage/sniff.js';
import { formatMoney } from '../documents/filters.js';
import type { JournalRow, Outcome } from './journal.js';
import { parseMessage } from './parse.js';
import { staffVerified } from './verify.js';
import type { IncomingAttachment, ParsedMessage } from './types.js';

// Processing one journaled message: parse, route, act — all in one transaction with the journal
// row's outcome, so the effect is applied exactly once. Every message ends with an outcome and a
// reason; staff commands are always answered (confirmation, or why nothing was applied); automatic
// mail and unknown senders never are.

export interface IntakeResult { id: number; outcome: Outcome; reason: string; ref: string | null; details?: Record<string, unknown>; /** Outbox rows to queue once committed. */ outbox: number[] }

class Refusal extends Error {
  constructor(message: string, readonly hint = '') {
    super(message);
  }
}

/** The subject without our [DL-2026-00042] / [DL-2026-00042 k7f3q9] tags: a reply adds its own once. */
function withoutTags(subject: string): string {
  return subject.replace(/\s*\[[A-Z]{1,4}-\d{4}-\d{5,}(?: [a-z0-9]{4,12})?\]\s*/gi, ' ').trim();
}

interface Effects { outbox: OutboxRow[] }

/**
 * The first `n` UTF-16 units of a text, without ending on the first half of a surrogate pair: a
 * lone half is not JSON PostgreSQL accepts, so a note of emoji cut at 10,000 units made jsonb refuse
 * the event and the whole message fail (found by the hostile-mail corpus).
 */
function cut(text: string, n: number): string {
  if (text.length <= n) return text;
  const code = text.charCodeAt(n - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

function notifyTemplate(app: App, name: string): string {
  return readFileSync(path.join(app.templatesDir, '_notify', name), 'utf8');
}

async function facts(app: App, c: DbClient, m: ParsedMessage, staffAuthPassed: boolean | null): Promise<RoutingFacts> {
  const ids = [m.inReplyTo, ...m.references].filter((x): x is string => Boolean(x));
  const ours = ids.length
    ? (await c.query<{ message_id: string; ref: string; key: string | null }>(`SELECT o.message_id, r.ref, p.key FROM outbox o JOIN records r ON r.id = o.record_id LEFT JOIN parties p ON p.id = o.party_id WHERE o.message_id = ANY($1)`, [ids])).rows
    : [];
  const refs = [...m.subject.matchAll(/[A-Za-z]{1,4}-\d{4}-\d{5,}/g)].map((x) => x[0].toUpperCase());
  for (const a of [...m.deliveredTo, ...m.to.map((x) => x.address)]) {
    const plus = /\+([a-z]{1,4}-\d{4}-\d{5,})\./i.exec(a);
    if (plus) refs.push(plus[1]!.toUpperCase());
  }
  const existing = refs.length ? (await c.query<{ ref: string }>('SELECT ref FROM records WHERE ref = ANY($1)', [refs])).rows.map((r) => r.ref) : [];
  const parties = new Map<string, LinkedParty[]>();
  for (const ref of new Set([...existing, ...ours.map((o) => o.ref)])) parties.set(ref, await recordParties(c, (await getRecord(c, ref)).id));
  const secret = await tokenSecret(app);
  const staff = new Set(app.config.mail.staff.map((s) => s.toLowerCase()));
  const fromStaff = Boolean(m.from && staff.has(m.from.address.toLowerCase()));
  return {
    nameMatches: fromStaff ? await clientNameMatches(c, app, m) : [],
    ourMessages: new Map(ours.map((o) => [o.message_id, { ref: o.ref, party: o.key }])),
    records: new Set([...existing, ...ours.map((o) => o.ref)]),
    tokenOwner: (ref, token) => parties.get(ref)?.find((p) => verifyToken(secret, ref, p.key, token))?.key ?? null,
    partyEmails: (key) => [...parties.values()].flat().find((p) => p.key === key)?.emails ?? [],
    staff,
    staffAuthPassed,
  };
}

const squash = (s: string) => s.toLowerCase().replace(/ё/g, 'е').replace(/[«»"'“”„]/g, '').replace(/\s+/g, ' ');

/**
 * Open records whose client the message names: "Смирнов Алексей Викторович", "Смирнов А.В." or
 * "Смирнов А. В." for a deal's borrower; the insured's name without its legal form for a claim.
 */
async function clientNameMatches(c: DbClient, app: App, m: ParsedMessage): Promise<string[]> {
  const finals = Object.entries(app.config.recordTypes).flatMap(([t, rt]) => rt.final.map((f) => `${t}:${f}`));
  const rows = (
    await c.query<{ ref: string; type: string; status: string; field_id: string; value: unknown }>(
      `SELECT r.ref, r.type, r.status, fv.field_id, fv.value FROM records r JOIN field_values fv ON fv.record_id = r.id AND fv.party_id IS NULL
       WHERE fv.field_id IN ('borrower_last_name', 'borrower_first_name', 'borrower_middle_name', 'insured_name', 'vehicle_plate')`,
    )
  ).rows.filter((r) => !finals.includes(`${r.type}:${r.status}`));
  const byRef = new Map<string, Record<string, string>>();
  for (const r of rows) byRef.set(r.ref, { ...(byRef.get(r.ref) ?? {}), [r.field_id]: String(r.value) });
  const hay = squash([m.subject, m.forwarded?.subject ?? '', m.forwarded?.text.slice(0, 4000) ?? '', m.ownText.slice(0, 2000)].join('\n'));
  const hits: string[] = [];
  for (const [ref, v] of byRef) {
    const names: string[] = [];
    if (v.borrower_last_name && v.borrower_first_name) {
      const l = squash(v.borrower_last_name);
      const f = squash(v.borrower_first_name);
      const mid = squash(v.borrower_middle_name ?? '');
      names.push(`${l} ${f}`, `${l} ${f[0]}.${mid ? mid[0] + '.' : ''}`, `${l} ${f[0]}. ${mid ? mid[0] + '.' : ''}`.trim());
    }
    if (v.insured_name) names.push(squash(v.insured_name).replace(/^(ооо|оао|пао|ао|зао|ип|нао)\s+/, ''));
    if (v.vehicle_plate) names.push(squash(v.vehicle_plate));
    if (names.some((n) => n.length >= 5 && hay.includes(n))) hits.push(ref);
  }
  return hits;
}

/** Which recipient (bank, insurer) a forwarded decision is from. */
function decidingParty(m: ParsedMessage, r: Route, parties: LinkedParty[], secret: string, ref: string): LinkedParty | null {
  const recipients = parties.filter((p) => p.role === 'recipient');
  const fw = m.forwarded;
  // 1. The bank replied to our package: its token is in the forwarded subject.
  for (const t of (fw?.subject ?? '').matchAll(/\[\s*([A-Za-z]{1,4}-\d{4}-\d{5,})\s+([a-z2-7]{6})\s*\]/gi)) {
    if (t[1]!.toUpperCase() !== ref) continue;
    const p = recipients.find((x) => verifyToken(secret, ref, x.key, t[2]!));
    if (p) return p;
  }
  // 2. The forwarded mail came from one of the recipient's addresses, or its mail domain.
  const from = fw?.from?.address.toLowerCase();
  if (from) {
    const exact = recipients.find((p) => p.emails.includes(from));
    if (exact) return exact;
    const domain = from.slice(from.lastIndexOf('@') + 1);
    const same = recipients.filter((p) => p.emails.some((e) => e.endsWith('@' + domain)));
    if (same.length === 1) return same[0]!;
  }
  // 3. The manager replied within the thread of the package sent to one recipient.
  if (r.tokenParty) return recipients.find((p) => p.key === r.tokenParty) ?? null;
  return null;
}

const LABEL: Record<StatusCommand['decision'], string> = { approved: 'одобрено', declined: 'отказ', more_info: 'запрос документов' };

async function applyDecision(app: App, c: DbClient, actor: Actor, journalRow: JournalRow, m: ParsedMessage, r: Route, cmd: StatusCommand, fx: Effects) {
  const record = await getRecord(c, r.ref!, { forUpdate: true });
  const parties = await recordParties(c, record.id);
  const secret = await tokenSecret(app);
  const party = decidingParty(m, r, parties, secret, record.ref);
  if (!party) {
    const from = m.forwarded?.from?.address;
    throw new Refusal(
      from ? `the forwarded mail is from ${from}, which is not a recipient of ${record.ref}` : `no forwarded bank or insurer mail was found to tell whose decision this is`,
      `Forward the bank's own email (not a copy of its text), or add its address to the party (dossier party import … --update). Recipients of ${record.ref}: ${parties.filter((p) => p.role === 'recipient').map((p) => p.key).join(', ') || 'none'}.`,
    );
  }
  const ctx = await recordSchemaContext(app, c, record.ref, { forUpdate: false });
  const need = ['decision', 'decision_date', ...(cmd.amount ? ['decision_amount'] : []), ...(cmd.comment ? ['decision_comment'] : [])];
  const missing = need.filter((f) => ctx.schema.fields.get(f)?.recipientKind !== party.kind && ctx.schema.fields.get(f)?.scope !== 'recipient');
  if (missing.length) throw new Refusal(`${record.type} v${ctx.schema.version} has no ${missing.join(', ')} field for a ${party.kind}`, 'Add the decision fields to the schema for this kind of recipient.');
  const date = (m.forwarded?.date ?? m.date ?? new Date()).toISOString().slice(0, 10);
  const assignments = [
    { party: party.key, field: 'decision', raw: cmd.decision },
    { party: party.key, field: 'decision_date', raw: date },
    ...(cmd.amount ? [{ party: party.key, field: 'decision_amount', raw: cmd.amount }] : []),
    ...(cmd.comment ? [{ party: party.key, field: 'decision_comment', raw: cut(cmd.comment, 1000) }] : []),
  ];
  await applyAssignments(c, ctx, actor, assignments, { source: 'message', origin: m.messageId ?? `journal:${journalRow.id}` });

  // The record's status follows the configured rule.
  const rule = app.config.statusRules[record.type]?.[cmd.decision];
  let statusNote = '';
  if (rule && rule.status !== record.status) {
    let due = true;
    if (rule.when === 'all') {
      const decided = (await c.query<{ key: string; value: unknown }>(`SELECT p.key, fv.value FROM field_values fv JOIN parties p ON p.id = fv.party_id WHERE fv.record_id = $1 AND fv.field_id = 'decision'`, [record.id])).rows;
      const same = parties.filter((p) => p.role === 'recipient' && p.kind === party.kind);
      due = same.every((p) => decided.find((d) => d.key === p.key)?.value === cmd.decision);
      if (!due) statusNote = `status stays "${record.status}": not every ${party.kind} has decided so yet`;
    }
    if (due && transitionAllowed(app.config, record.type, record.status, rule.status)) {
      await changeStatusIn(c, app.config, actor, { ref: record.ref, status: rule.status, reason: `${LABEL[cmd.decision]} — ${party.name}` });
      statusNote = `status ${record.status} → ${rule.status}`;
    } else if (due) statusNote = `status stays "${record.status}": "${rule.status}" does not follow it`;
  }

  // The forwarded bank mail is kept on the record as evidence (the whole message, as received).
  await c.query(
    `INSERT INTO attachments (record_id, category, file_name, content_type, size, sha256, source, created_by) VALUES ($1, 'correspondence', $2, 'message/rfc822', $3, $4, 'message', $5)`,
    [record.id, `Решение ${party.key} ${date}.eml`, journalRow.size, journalRow.sha256, actor.id],
  );

  // Tell the client (email and SMS) and confirm to the manager.
  const amountText = cmd.amount ? formatMoney(cmd.amount) : '';
  const client = parties.find((p) => p.role === 'client');
  const base = await renderData(app, record.ref);
  const data: RenderData = { ...base.data, specials: { ...base.data.specials, $decision: cmd.decision, $amount: amountText, $comment: cmd.comment ?? '', $party_name: party.name } };
  if (client) {
    if (client.emails.length) {
      fx.outbox.push(
        await enqueueMail(app, c, actor, {
          recordId: record.id,
          partyId: client.id,
          kind: 'notification',
          to: client.emails,
          subject: `${subjectTag(record.ref)} Решение банка по вашей заявке`,
          text: renderText(notifyTemplate(app, 'decision-client.txt.hbs'), data, { name: '_notify/decision-client.txt.hbs' }),
          automatic: true,
        }),
      );
    }
    if (client.phone) await queueSms(c, { recordId: record.id, partyId: client.id, to: client.phone, body: renderText(notifyTemplate(app, 'decision-sms.txt.hbs'), data, { name: '_notify/decision-sms.txt.hbs' }).trim() });
  }
  const summary = `${party.name}: ${LABEL[cmd.decision]}${amountText ? `, сумма ${amountText} руб.` : ''}${cmd.comment ? ` (${cmd.comment})` : ''}; ${statusNote || `status ${record.status}`}; ${client ? `client ${client.key} notified` : 'no client on the record to notify'}.`;
  await confirm(app, c, actor, m, record, summary, fx);
  return { record, party, summary };
}

async function confirm(app: App, c: DbClient, actor: Actor, m: ParsedMessage, record: RecordRow | null, summary: string, fx: Effects) {
  const to = m.from?.address;
  if (!to) return;
  const data: RenderData = { values: {}, fields: new Map(), specials: { $ref: record?.ref ?? '—', $summary: summary, $original_subject: m.subject }, lang: 'ru' };
  fx.outbox.push(
    await enqueueMail(app, c, actor, {
      recordId: record?.id ?? null,
      partyId: null,
      kind: 'confirmation',
      to: [to],
      subject: `Re: ${record ? subjectTag(record.ref) + ' ' : ''}${withoutTags(m.subjectCore)}`.slice(0, 250),
      text: renderText(notifyTemplate(app, 'confirmation.txt.hbs'), data),
      ...(m.messageId ? { inReplyTo: m.messageId, references: [...m.references, m.messageId] } : {}),
      automatic: true,
    }),
  );
}

async function refuse(app: App, c: DbClient, actor: Actor, m: ParsedMessage, record: RecordRow | null, reason: string, hint: string, fx: Effects) {
  const to = m.from?.address;
  if (!to) return;
  const data: RenderData = { values: {}, fields: new Map(), specials: { $ref: record?.ref ?? '—', $reason: reason, $hint: hint, $original_subject: m.subject }, lang: 'ru' };
  fx.outbox.push(
    await enqueueMail(app, c, actor, {
      recordId: record?.id ?? null,
      partyId: null,
      kind: 'confirmation',
      to: [to],
      subject: `Re: ${m.subjectCore} — не применено`.slice(0, 250),
      text: renderText(notifyTemplate(app, 'refusal.txt.hbs'), data),
      ...(m.messageId ? { inReplyTo: m.messageId, references: [...m.references, m.messageId] } : {}),
      automatic: true,
    }),
  );
}

/** Documents and a note from an outside party with a valid token (a lawyer replying to our package). */
async function addFromParty(app: App, c: DbClient, actor: Actor, journalRow: JournalRow, m: ParsedMessage, ref: string, partyKey: string, fx: Effects) {
  const record = await getRecord(c, ref, { forUpdate: true });
  const parties = await recordParties(c, record.id);
  const party = parties.find((p) => p.key === partyKey)!;
  const files: string[] = [];
  const docs = [...m.attachments.filter((a) => !a.inline), ...(m.forwarded?.attachments ?? [])];
  for (const a of docs) {
    await storeAttachment(app, c, actor, record, a, app.config.intake.incomingCategory, m);
    files.push(a.fileName);
  }
  const note = m.ownText.trim();
  if (note) await recordEvent(c, actor, { recordId: record.id, partyId: party.id, kind: 'note_added', field: 'note', newValue: cut(note, 10_000), details: { from: m.from?.address, messageId: m.messageId, journal: journalRow.id } });
  if (!files.length && !note) return { files, note: '', applied: false };
  const data: RenderData = { values: {}, fields: new Map(), specials: { $ref: record.ref, $files: files.join(', '), $party_name: party.name, $note: cut(note, 2000) }, lang: 'ru' };
  // The sender gets an acknowledgement; those who follow the record get a notice.
  if (m.from?.address) {
    fx.outbox.push(
      await enqueueMail(app, c, actor, {
        recordId: record.id,
        partyId: party.id,
        kind: 'acknowledgement',
        to: [m.from.address],
        subject: `Re: ${withoutTags(m.subjectCore)} ${subjectTag(record.ref)}`.slice(0, 250),
        text: renderText(notifyTemplate(app, 'documents-ack.txt.hbs'), data),
        ...(m.messageId ? { inReplyTo: m.messageId, references: [...m.references, m.messageId] } : {}),
        automatic: true,
      }),
    );
  }
  const followers = [...new Set(parties.filter((p) => p.role === 'participant' && p.key !== party.key).flatMap((p) => p.emails))];
  if (followers.length) {
    fx.outbox.push(
      await enqueueMail(app, c, actor, {
        recordId: record.id,
        partyId: null,
        kind: 'notification',
        to: followers,
        subject: `${subjectTag(record.ref)} Новые документы от ${party.name}`,
        text: renderText(notifyTemplate(app, 'documents-notify.txt.hbs'), data),
        automatic: true,
      }),
    );
  }
  return { files, note, applied: true };
}

async function storeAttachment(app: App, c: DbClient, actor: Actor, record: RecordRow, a: IncomingAttachment, category: string, m: ParsedMessage) {
  const blob = await app.blobs.put((await import('node:stream')).Readable.from([a.content]));
  const type = a.contentType || (await sniffBuffer(a.content.subarray(0, 4100)));
  await c.query('INSERT INTO blobs (sha256, size, content_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [blob.sha256, blob.size, type]);
  const row = (
    await c.query<{ id: number }>(
      `INSERT INTO attachments (record_id, category, file_name, content_type, size, sha256, source, created_by) VALUES ($1, $2, $3, $4, $5, $6, 'message', $7) RETURNING id`,
      [record.id, category, a.fileName, type, blob.size, blob.sha256, actor.id],
    )
  ).rows[0]!;
  await recordEvent(c, actor, { recordId: record.id, kind: 'attachment_added', field: `attachment:${category}`, newValue: { id: row.id, file: a.fileName, category, size: blob.size, sha256: blob.sha256, contentType: type, originalName: a.originalName, messageId: m.messageId } });
}

/** Processes a journaled message once; a message another process holds is left to it. */
export async function processMessage(app: App, id: number): Promise<IntakeResult | null> {
  const row0 = (await app.db.query<JournalRow>('SELECT * FROM inbound_messages WHERE id = $1', [id])).rows[0];
  if (!row0) return null;
  if (row0.outcome) return { id, outcome: row0.outcome, reason: row0.reason ?? '', ref: null, outbox: [] };
  const raw = await buffer(await app.blobs.open(row0.sha256));
  const limits = app.config.intake.limits;
  const m = await parseMessage(raw, limits);
  // Verified before the transaction: with mailauth it may wait on DNS.
  const isStaff = Boolean(m.from && app.config.mail.staff.some((s) => s.toLowerCase() === m.from!.address.toLowerCase()));
  const staffAuthPassed = isStaff ? await staffVerified(app, raw, m, app.dnsResolver) : null;
  const actor: Actor = { id: `message:${id}`, source: 'message' };
  const fx: Effects = { outbox: [] };
  try {
    const result = await withTransaction(app.db, async (c) => {
      const row = (await c.query<JournalRow>('SELECT * FROM inbound_messages WHERE id = $1 AND outcome IS NULL FOR UPDATE SKIP LOCKED', [id])).rows[0];
      if (!row) return null; // processed meanwhile, or being processed by another worker
      const out = await decide(app, c, actor, row, m, fx, staffAuthPassed);
      await c.query(
        `UPDATE inbound_messages SET outcome = $2, reason = $3, record_id = $4, party_id = $5, details = $6, processed_at = now(), attempts = attempts + 1,
           message_id = COALESCE(message_id, $7), from_address = COALESCE($8, from_address), subject = COALESCE($9, subject) WHERE id = $1`,
        [id, out.outcome, out.reason, out.recordId ?? null, out.partyId ?? null, JSON.stringify({ ...out.details, warnings: m.warnings }), m.messageId, m.from?.address ?? null, m.subject || null],
      );
      return { id, outcome: out.outcome, reason: out.reason, ref: out.ref ?? null, ...(out.details ? { details: out.details } : {}), outbox: fx.outbox.map((o) => o.id) };
    });
    return result;
  } catch (err) {
    // The database going away is no verdict on the message: it stays unprocessed (and in its
    // mailbox) for the next pass. Even a COMMIT whose answer was lost is safe: the next pass finds
    // the outcome in the journal and only moves the message.
    if (isTransientDbError(err)) {
      throw new DossierError('DB_UNAVAILABLE', `Message #${id} could not be processed now: the database is unavailable (${(err as Error).message}).`, {
        hint: `It is journaled and will be processed when the database is back (the worker retries; or \`dossier mail replay ${id}\`).`,
        cause: err,
      });
    }
    // Nothing of the message was applied (the transaction rolled back); say so, keep it for replay.
    const reason = `processing failed: ${(err as Error).message}`.slice(0, 2000);
    await app.db.query(`UPDATE inbound_messages SET outcome = 'failed', reason = $2, attempts = attempts + 1, processed_at = now() WHERE id = $1 AND outcome IS NULL`, [id, reason]);
    return { id, outcome: 'failed', reason, ref: null, outbox: [] };
  }
}

interface Decision { outcome: Outcome; reason: string; recordId?: number; partyId?: number; ref?: string; details?: Record<string, unknown> }

async function decide(app: App, c: DbClient, actor: Actor, row: JournalRow, m: ParsedMessage, fx: Effects, staffAuthPassed: boolean | null): Promise<Decision> {
  if (m.ours) return { outcome: 'ignored', reason: 'our own message came back (X-Dossier-Loop)' };
  if (m.bounce) {
    const o = m.bounce.originalMessageId ? (await c.query<OutboxRow>('SELECT * FROM outbox WHERE message_id = $1', [m.bounce.originalMessageId])).rows[0] : undefined;
    if (!o) return { outcome: 'ignored', reason: `bounce for a message we did not send${m.bounce.originalMessageId ? ` (${m.bounce.originalMessageId})` : ''}` };
    // Whoever has our message knows its Message-ID; a report that names recipients the message was
    // not sent to is not a mail server's, and changes nothing.
    const ours = new Set(o.to_addresses.map((a) => (/<([^>]+)>/.exec(a)?.[1] ?? a).trim().toLowerCase()));
    const strangers = m.bounce.recipients.filter((r) => !ours.has(r.toLowerCase()));
    if (strangers.length) {
      return { outcome: 'quarantined', reason: `bounce report for outbox #${o.id} names ${strangers.join(', ')}, to whom that message was not sent`, ...(o.record_id ? { recordId: o.record_id } : {}) };
    }
    const why = [m.bounce.status, m.bounce.diagnostic].filter(Boolean).join(' ') || 'bounced';
    await c.query(`UPDATE outbox SET status = 'bounced', last_response = $2, updated_at = now() WHERE id = $1`, [o.id, why]);
    if (o.record_id) await recordEvent(c, actor, { recordId: o.record_id, partyId: o.party_id, kind: 'mail_bounced', field: `outbox:${o.id}`, newValue: { outbox: o.id, to: m.bounce.recipients, reason: why } });
    return { outcome: 'applied', reason: `bounce: outbox #${o.id} to ${m.bounce.recipients.join(', ') || o.to_addresses.join(', ')} marked bounced (${why})`, ...(o.record_id ? { recordId: o.record_id } : {}) };
  }
  if (m.auto) return { outcome: 'ignored', reason: m.auto === 'list' ? 'mailing-list or bulk mail (Precedence/List-Id)' : 'auto-reply (never answered)' };

  const from = m.from?.address.toLowerCase() ?? null;
  if (from) {
    const n = (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM inbound_messages WHERE from_address = $1 AND received_at > now() - interval '1 hour'`, [from])).rows[0]!.n;
    if (n > app.config.intake.perSenderPerHour) return { outcome: 'quarantined', reason: `rate limit: ${n} messages from ${from} in the last hour (limit ${app.config.intake.perSenderPerHour})` };
  }

  const r = route(m, await facts(app, c, m, staffAuthPassed));
  const record = r.ref ? await getRecord(c, r.ref) : null;
  const base = { ...(record ? { recordId: record.id, ref: record.ref } : {}), details: { route: { via: r.via, speaker: r.speaker, tokenParty: r.tokenParty } } };

  if (r.speaker.kind === 'staff') {
    if (!r.speaker.verified) {
      const reason = `mail from staff address ${from} without a passing DKIM/DMARC result from our mail server`;
      await refuse(app, c, actor, m, record, reason, 'If you sent it, your mail server may not sign mail: ask the administrator. If you did not, someone is using your address.', fx);
      return { outcome: 'quarantined', reason, ...base };
    }
    const cmd = parseStatusReply(m.ownText);
    if (cmd.kind === 'none') {
      if (!record) return { outcome: 'ignored', reason: 'staff message without a command or a record reference', ...base };
      // A staff message with documents or a note about the record.
      const docs = m.attachments.filter((a) => !a.inline);
      for (const a of docs) await storeAttachment(app, c, actor, record, a, app.config.intake.incomingCategory, m);
      if (m.ownText.trim()) await recordEvent(c, actor, { recordId: record.id, kind: 'note_added', field: 'note', newValue: cut(m.ownText.trim(), 10_000), details: { from, messageId: m.messageId } });
      if (!docs.length && !m.ownText.trim()) return { outcome: 'ignored', reason: 'staff message with nothing to add', ...base };
      return { outcome: 'applied', reason: `staff note${docs.length ? ` and ${docs.length} document(s)` : ''} added to ${record.ref}`, ...base };
    }
    if (cmd.kind === 'ambiguous') {
      const reason = `the command is ambiguous: ${cmd.reason}`;
      await refuse(app, c, actor, m, record, reason, 'Write one decision on the first line, e.g. "одобрено, сумма 1 500 000" or "отказ".', fx);
      return { outcome: 'refused', reason, ...base };
    }
    if (!record) {
      const reason = r.ambiguousNames.length
        ? `the client's name matches several records (${r.ambiguousNames.join(', ')})`
        : r.unknownRefs.length
          ? `there is no record ${r.unknownRefs.join(', ')}`
          : 'no record found: neither a reference like [DL-2026-00042] nor a client name Dossier knows';
      await refuse(app, c, actor, m, null, reason, 'Keep the tag like [DL-2026-00042] in the subject when you forward the decision.', fx);
      return { outcome: 'refused', reason, ...base };
    }
    try {
      await c.query('SAVEPOINT decision');
      const done = await applyDecision(app, c, actor, row, m, r, cmd.command, fx);
      await c.query('RELEASE SAVEPOINT decision');
      return { outcome: 'applied', reason: `${cmd.command.decision}: ${done.summary}`, recordId: record.id, partyId: done.party.id, ref: record.ref, details: { ...base.details, command: cmd.command } };
    } catch (err) {
      if (!(err instanceof Refusal) && !(err instanceof DossierError)) throw err;
      await c.query('ROLLBACK TO SAVEPOINT decision');
      fx.outbox.length = 0;
      const reason = `not applied: ${(err as Error).message}`;
      await refuse(app, c, actor, m, record, reason, err instanceof Refusal ? err.hint : ((err as { hint?: string }).hint ?? ''), fx);
      return { outcome: 'refused', reason, ...base };
    }
  }

  if (r.speaker.kind === 'party' && record) {
    const added = await addFromParty(app, c, actor, row, m, record.ref, r.speaker.party, fx);
    const partyId = (await c.query<{ id: number }>('SELECT id FROM parties WHERE key = $1', [r.speaker.party])).rows[0]!.id;
    if (!added.applied) return { outcome: 'ignored', reason: `message from ${r.speaker.party} with no documents and no text`, partyId, ...base };
    return { outcome: 'applied', reason: `${added.files.length} document(s)${added.note ? ' and a note' : ''} from ${r.speaker.party} added to ${record.ref}`, partyId, ...base };
  }
  if (r.speaker.kind === 'unknown' && r.speaker.claimedParty) {
    return { outcome: 'quarantined', reason: `the reply token of ${r.speaker.claimedParty} was used from ${from ?? 'an unknown address'}, which is not theirs`, ...base };
  }
  if (record) return { outcome: 'quarantined', reason: `unknown sender ${from ?? '(none)'}: a reference number alone authorises nothing`, ...base };
  return { outcome: 'quarantined', reason: `unknown sender ${from ?? '(none)'} and no record found`, ...base };
}
