import { markBounced } from '../../outbound/delivery.js';
import type { Intent } from '../../routing/intent.js';
import type { ActContext, Decision } from './context.js';

// A permanent failure report about one of our messages (its recipients checked by route()).
export async function applyBounce(x: ActContext, i: Extract<Intent, { kind: 'bounce' }>): Promise<Decision> {
  const o = i.outbox;
  await markBounced(x.c, x.actor, o, i.recipients, i.why);
  return {
    outcome: 'applied',
    reason: `bounce: outbox #${o.id} to ${i.recipients.join(', ') || o.to_addresses.join(', ')} marked bounced (${i.why})`,
    ...(o.record_id ? { recordId: o.record_id } : {}),
    ...(o.ref ? { ref: o.ref } : {}),
  };
}
