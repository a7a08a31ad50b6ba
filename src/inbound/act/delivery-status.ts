import { markDelivered, noteDelayed } from '../../outbound/delivery.js';
import type { Intent } from '../../routing/intent.js';
import type { ActContext, Decision } from './context.js';

// A delay or delivery report about one of our messages: noted on its outbox row.
export async function applyDeliveryStatus(x: ActContext, i: Extract<Intent, { kind: 'delivery-status' }>): Promise<Decision> {
  const o = i.outbox;
  if (i.action === 'delayed') await noteDelayed(x.c, x.actor, o, i.recipients, i.why);
  else await markDelivered(x.c, x.actor, o, i.recipients, i.why);
  return {
    outcome: 'applied',
    reason: `delivery report: outbox #${o.id} to ${i.recipients.join(', ')} ${i.action === 'delayed' ? 'delayed' : 'delivered'} (${i.why})`,
    ...(o.record_id ? { recordId: o.record_id } : {}),
    ...(o.ref ? { ref: o.ref } : {}),
  };
}
