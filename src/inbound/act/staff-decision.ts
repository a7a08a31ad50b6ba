import { formatMoney } from '../../documents/filters.js';
import { attachStoredIn } from '../../records/attachments.js';
import { changeStatusIn, transitionAllowed } from '../../records/records.js';
import type { Intent, Problem } from '../../routing/intent.js';
import { applyAssignments, recordSchemaContext } from '../../schemas/fields.js';
import type { FieldRole } from '../../schemas/load.js';
import { cut } from '../../text/clean.js';
import { fieldRoles } from '../facts.js';
import type { DecisionSummary } from '../notify.js';
import type { ActContext, Decision } from './context.js';
import { calendarDate } from '../../text/calendar-date.js';

// A bank's or insurer's decision, forwarded by authenticated staff: the decision fields (their ids
// from field-schemas/roles.yaml) set in the deciding party's section, the record's status moved by
// the configured rule, the forwarded mail kept as evidence, the client told (email and SMS, in the
// record type's wording), the manager's message confirmed.

/** The decision cannot be applied; the manager is told why (the caller rolls back to its savepoint). */
export class DecisionRefused extends Error {
  constructor(readonly problem: Problem, message: string) {
    super(message);
  }
}

const LABEL = { approved: 'одобрено', declined: 'отказ', more_info: 'запрос документов' } as const;

export async function applyDecision(x: ActContext, i: Extract<Intent, { kind: 'staff-decision' }>): Promise<Decision> {
  const { app, c, actor, m } = x;
  const { party, command: cmd } = i;
  const ctx = await recordSchemaContext(app, c, i.record.ref, { forUpdate: true });
  const record = ctx.record;
  const roles = fieldRoles(app, x.cache)[record.type] ?? {};
  const wanted: FieldRole[] = ['decision', 'decision_date', ...(cmd.amount ? (['decision_amount'] as const) : []), ...(cmd.comment ? (['decision_comment'] as const) : [])];
  const fieldOf = (r: FieldRole) => roles[r] ?? null;
  const missing = wanted.filter((r) => {
    const f = fieldOf(r) ? ctx.schema.fields.get(fieldOf(r)!) : undefined;
    return !f || (f.recipientKind !== party.kind && f.scope !== 'recipient');
  });
  if (missing.length) {
    const fields = missing.map((r) => fieldOf(r) ?? r);
    throw new DecisionRefused({ code: 'no-decision-fields', type: record.type, version: ctx.schema.version, fields, kind: party.kind }, `${record.type} v${ctx.schema.version} has no ${fields.join(', ')} field for a ${party.kind}`);
  }
  // The bank's own date when the forward carries it, else the manager's: the calendar day in the
  // sender's offset (or the business time zone), never the UTC day.
  const when = m.forwarded?.date ? { at: m.forwarded.date, offset: m.forwarded.dateOffset } : m.date ? { at: m.date, offset: m.dateOffset } : { at: new Date(), offset: null };
  const date = calendarDate(when.at, when.offset, app.config.deadlines.timeZone);
  const values: [FieldRole, unknown][] = [['decision', cmd.decision], ['decision_date', date], ...(cmd.amount ? [['decision_amount', cmd.amount] as [FieldRole, unknown]] : []), ...(cmd.comment ? [['decision_comment', cut(cmd.comment, 1000)] as [FieldRole, unknown]] : [])];
  await applyAssignments(c, ctx, actor, values.map(([r, raw]) => ({ party: party.key, field: fieldOf(r)!, raw })), { source: 'message', origin: m.messageId ?? `journal:${x.row.id}` });

  // The record's status follows the configured rule.
  const rule = app.config.statusRules[record.type]?.[cmd.decision];
  const summary: DecisionSummary = { party, command: cmd, amount: cmd.amount ? formatMoney(cmd.amount) : '', statusFrom: record.status, statusTo: null, statusKept: null, client: i.record.parties.find((p) => p.role === 'client') ?? null };
  let statusNote = '';
  if (rule && rule.status !== record.status) {
    let due = true;
    if (rule.when === 'all') {
      const decided = (await c.query<{ key: string; value: unknown }>(`SELECT p.key, fv.value FROM field_values fv JOIN parties p ON p.id = fv.party_id WHERE fv.record_id = $1 AND fv.field_id = $2`, [record.id, fieldOf('decision')])).rows;
      due = ctx.parties.filter((p) => p.role === 'recipient' && p.kind === party.kind).every((p) => decided.find((d) => d.key === p.key)?.value === cmd.decision);
      if (!due) {
        statusNote = `status stays "${record.status}": not every ${party.kind} has decided so yet`;
        summary.statusKept = 'not-all';
      }
    }
    if (due && transitionAllowed(app.config, record.type, record.status, rule.status)) {
      await changeStatusIn(c, app.config, actor, { ref: record.ref, status: rule.status, reason: `${LABEL[cmd.decision]} — ${party.name}` });
      statusNote = `status ${record.status} → ${rule.status}`;
      summary.statusTo = rule.status;
    } else if (due) {
      statusNote = `status stays "${record.status}": "${rule.status}" does not follow it`;
      summary.statusKept = 'no-transition';
    }
  }

  // The forwarded bank mail is kept on the record as evidence: the whole message as received (its
  // bytes are the journal's, already in the blob store).
  await attachStoredIn(c, actor, record.id, [{ fileName: `Решение ${party.key} ${date}.eml`, contentType: 'message/rfc822', size: x.row.size, sha256: x.row.sha256!, details: { messageId: m.messageId } }], 'correspondence');
  await x.notify.tellClient(i.record, summary);
  await x.notify.confirmDecision(i.record, summary);
  const client = summary.client;
  const reason = `${party.name}: ${LABEL[cmd.decision]}${summary.amount ? `, сумма ${summary.amount} руб.` : ''}${cmd.comment ? ` (${cmd.comment})` : ''}; ${statusNote || `status ${record.status}`}; ${client ? `client ${client.key} notified` : 'no client on the record to notify'}.`;
  return { outcome: 'applied', reason: `${cmd.decision}: ${reason}`, recordId: record.id, partyId: party.id, ref: record.ref, details: { command: cmd } };
}
