import { buffer } from 'node:stream/consumers';
import type { Actor, App } from '../app.js';
import { isTransientDbError, withTransaction } from '../db/pool.js';
import { DossierError } from '../errors.js';
import { passingFailure } from '../storage/transient.js';
import { approvalIdIn } from '../approvals/reply.js';
import { route } from '../routing/route.js';
import { act, decisionWithoutEffects, type Decision } from './act/index.js';
import { gatherFacts, isStaffAddress, needsFacts, newPassCache, noFacts, type PassCache } from './facts.js';
import type { JournalRow, Outcome } from './journal.js';
import { createNotifier } from './notify.js';
import { recordOutcome, type OutcomeBuffer } from './outcomes.js';
import { parseMessage } from './parse.js';
import { partyCheck, staffCheck } from './trust.js';
import type { ParsedMessage } from './types.js';
import type { StaffAuthVerdict } from './verify.js';

// One journaled message through the flow: parse → route → act → notify. This module keeps the
// transaction and the outcome: the facts are gathered (facts.ts), route() decides the intent
// (routing/route.ts, pure), one action applies it (act/), the notifier writes the answers
// (notify.ts). An intent that changes nothing but the outcome (noise, quarantine) is recorded with
// one conditional UPDATE, or held for its batch's single UPDATE (outcomes.ts); any other is applied
// in one transaction with the journal row's outcome, so its effect happens exactly once. Every
// message ends with an outcome and a reason; staff commands are always answered (confirmation, or
// why nothing was applied); automatic mail and unknown senders never are.

export interface IntakeResult { id: number; outcome: Outcome; reason: string; ref: string | null; details?: Record<string, unknown>; /** Outbox rows to queue once committed. */ outbox: number[] }

/** Mail from a staff address, or an approver's reply ([APR-n]: issue 17), counts only if it passes the staff check. */
export const needsStaffCheck = (cache: PassCache, m: ParsedMessage): boolean => isStaffAddress(cache, m) || approvalIdIn(m.subject) !== null;

/** A message already decided (found again in a mailbox): only its outcome. */
export const knownResult = (row: JournalRow): IntakeResult => ({ id: row.id, outcome: row.outcome!, reason: row.reason ?? '', ref: null, outbox: [] });

/**
 * Processes a journaled message once; a message another process holds is left to it (null).
 * `outcomes`: a fetched batch's buffer; an outcome that changes nothing else is held there for the
 * batch to write (batch.ts), instead of written at once.
 */
export async function processMessage(app: App, id: number, opts: { cache?: PassCache; row?: JournalRow; raw?: Buffer; parsed?: ParsedMessage; staffAuth?: StaffAuthVerdict | null; outcomes?: OutcomeBuffer } = {}): Promise<IntakeResult | null> {
  const row0 = opts.row ?? (await app.db.query<JournalRow>('SELECT * FROM inbound_messages WHERE id = $1', [id])).rows[0];
  if (!row0) return null;
  if (row0.outcome || !row0.sha256) return row0.outcome ? knownResult(row0) : null;
  const cache = opts.cache ?? newPassCache(app);
  const raw = opts.raw ?? (await buffer(await app.blobs.open(row0.sha256)));
  const m = opts.parsed ?? (await parseMessage(raw, app.config.intake.limits));
  // Verified before the transaction: with mailauth it may wait on DNS.
  // (An approver's reply, [APR-n], is held to the same check: issue 17.)
  // (Given by the batch when it asked already, to choose the message's lane.)
  const staffAuth = opts.staffAuth !== undefined ? opts.staffAuth : needsStaffCheck(cache, m) ? await staffCheck(app, raw, m, app.dnsResolver) : null;
  // A message over maxMessageBytes is not read, so nothing of it is applied: no DMARC pass over its body.
  const partyAuth = staffAuth || m.tooLarge ? null : await partyCheck(app, raw, m, app.dnsResolver);
  try {
    // Decided first outside a transaction: most mail (noise, unknown senders, forgeries) changes
    // nothing but its own journal row, and that is one conditional UPDATE — not BEGIN, a row lock
    // and COMMIT around it (3 of the 5 round trips such a message made).
    const intent = route(m, needsFacts(m) ? await gatherFacts(app, app.db, cache, m, staffAuth, id, partyAuth) : noFacts(cache));
    const decided = decisionWithoutEffects(intent);
    if (decided) {
      if (opts.outcomes) opts.outcomes.hold(id, decided, m, staffAuth?.ok === true);
      // Another worker that decided it meanwhile wins, and this one stands back.
      else if (!(await recordOutcome(app.db, id, decided, m, staffAuth?.ok === true))) return null;
      return result(id, decided, []);
    }
    // Anything else acts: after the outcomes decided before it are written, under the journal
    // row's lock, on facts read again after the lock (a repeat of a message applied meanwhile must
    // be seen), in one transaction with the outcome.
    await opts.outcomes?.flush();
    return await withTransaction(app.db, async (c) => {
      const facts = await gatherFacts(app, c, cache, m, staffAuth, id, partyAuth, { lock: true });
      if (!facts.locked) return null; // processed meanwhile, or being processed by another worker
      const actor: Actor = { id: `message:${id}`, source: 'message' };
      const notify = createNotifier(app, c, actor, m);
      const out = partial(await act({ app, c, actor, row: row0, m, notify, cache }, route(m, facts)), m);
      await recordOutcome(c, id, out, m, staffAuth?.ok === true);
      return result(id, out, notify.outbox.map((o) => o.id));
    });
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
    // A full or read-only disk (an attachment, an answer's bytes) is no verdict either: nothing was
    // applied (rolled back), the message stays unprocessed for the next pass.
    const passing = passingFailure(err, `processing message #${id}`, `Message #${id} is journaled and nothing of it was applied; the next pass processes it (or \`dossier mail replay ${id}\`).`);
    if (passing) throw passing;
    // Nothing of the message was applied (the transaction rolled back); say so, keep it for replay.
    const reason = `processing failed: ${(err as Error).message}`.slice(0, 2000);
    await app.db.query(`UPDATE inbound_messages SET outcome = 'failed', reason = $2, attempts = attempts + 1, processed_at = now() WHERE id = $1 AND outcome IS NULL`, [id, reason]);
    return { id, outcome: 'failed', reason, ref: null, outbox: [] };
  }
}

/** Applied, but some part was not taken: "partial", the parts named in the reason (and in `dropped`). */
function partial(out: Decision, m: ParsedMessage): Decision {
  if (out.outcome !== 'applied' || !m.dropped.length) return out;
  const named = m.dropped.slice(0, 5).map((d) => `${d.file} (${d.reason})`).join(', ');
  const more = m.dropped.length > 5 ? ` and ${m.dropped.length - 5} more` : '';
  return { ...out, outcome: 'partial', reason: `${out.reason}; not taken: ${named}${more}` };
}

const result = (id: number, out: Decision, outbox: number[]): IntakeResult => ({ id, outcome: out.outcome, reason: out.reason, ref: out.ref ?? null, ...(out.details ? { details: out.details } : {}), outbox });
