import type { Intent } from '../../routing/intent.js';
import type { Decision } from './context.js';

// Automatic mail (auto-replies, lists, our own mail come back, reports about mail we did not send)
// and staff mail with nothing in it: never answered, nothing changed.
export function ignore(i: Extract<Intent, { kind: 'noise' }>): Decision {
  return { outcome: 'ignored', reason: i.reason, ...(i.record ? { recordId: i.record.id, ref: i.record.ref } : {}) };
}
