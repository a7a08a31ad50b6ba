import { DossierError } from '../../errors.js';
import type { Intent } from '../../routing/intent.js';
import { answerApprovalReply } from './approval-reply.js';
import { applyBounce } from './bounce.js';
import type { ActContext, Decision } from './context.js';
import { applyDeliveryStatus } from './delivery-status.js';
import { ignore } from './noise.js';
import { addPartyDocuments } from './party-documents.js';
import { quarantine } from './quarantine.js';
import { refuse } from './refusal.js';
import { applyDecision, DecisionRefused } from './staff-decision.js';
import { addStaffNote } from './staff-note.js';

export type { ActContext, Decision } from './context.js';

// One action per intent. Each writes through the module that owns the table it changes
// (attachments: records/attachments.ts; outbox rows: outbound/; statuses: records/records.ts;
// values: schemas/fields.ts); notifications go through the notifier.

export async function act(x: ActContext, i: Intent): Promise<Decision> {
  return withRoute(await dispatch(x, i), i);
}

/**
 * The decision on an intent that changes nothing but the message's own journal row (noise,
 * quarantine), or null: process.ts records those without a transaction.
 */
export function decisionWithoutEffects(i: Intent): Decision | null {
  if (i.kind === 'noise') return withRoute(ignore(i), i);
  if (i.kind === 'quarantine') return withRoute(quarantine(i), i);
  return null;
}

/** Who spoke and what routing relied on, for `dossier mail show`. */
const withRoute = (done: Decision, i: Intent): Decision => ({ ...done, details: { ...done.details, intent: i.kind, route: { via: i.via, speaker: i.speaker, facts: i.facts } } });

async function dispatch(x: ActContext, i: Intent): Promise<Decision> {
  switch (i.kind) {
    case 'noise':
      return ignore(i);
    case 'quarantine':
      return quarantine(i);
    case 'refusal':
      return refuse(x, i);
    case 'bounce':
      return applyBounce(x, i);
    case 'delivery-status':
      return applyDeliveryStatus(x, i);
    case 'staff-note':
      return addStaffNote(x, i);
    case 'party-documents':
      return addPartyDocuments(x, i);
    case 'staff-decision':
      return decisionOrRefusal(x, i);
    case 'approval-reply':
      return answerApprovalReply(x, i);
  }
}

/** A decision that cannot be applied (no such field, a value refused) changes nothing and is answered. */
async function decisionOrRefusal(x: ActContext, i: Extract<Intent, { kind: 'staff-decision' }>): Promise<Decision> {
  await x.c.query('SAVEPOINT decision');
  try {
    return await applyDecision(x, i); // the savepoint goes with the COMMIT: no RELEASE round trip
  } catch (err) {
    if (!(err instanceof DecisionRefused) && !(err instanceof DossierError)) throw err;
    await x.c.query('ROLLBACK TO SAVEPOINT decision');
    x.notify.outbox.length = 0;
    const problem = err instanceof DecisionRefused ? err.problem : { code: 'error' as const, message: err.message, hint: err.hint ?? '' };
    return refuse(x, { ...i, kind: 'refusal', outcome: 'refused', problem, reason: `not applied: ${err.message}` });
  }
}
