import type { Intent } from '../../routing/intent.js';
import type { Decision } from './context.js';

// Unknown senders, a token used from someone else's address, a forged report, a sender over the
// rate limit: kept for a person to look at (`dossier mail show`), nothing changed, nobody answered.
export function quarantine(i: Extract<Intent, { kind: 'quarantine' }>): Decision {
  return { outcome: 'quarantined', reason: i.reason, ...(i.record ? { recordId: i.record.id, ref: i.record.ref } : {}) };
}
