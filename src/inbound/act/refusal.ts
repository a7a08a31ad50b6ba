import type { Intent } from '../../routing/intent.js';
import type { ActContext, Decision } from './context.js';

// Staff mail that cannot be applied is always answered with why (in the configured language).
export async function refuse(x: ActContext, i: Extract<Intent, { kind: 'refusal' }>): Promise<Decision> {
  await x.notify.refuse(i.record, i.problem);
  return { outcome: i.outcome, reason: i.reason, ...(i.record ? { recordId: i.record.id, ref: i.record.ref } : {}) };
}
