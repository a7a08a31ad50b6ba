import { answerApproval } from '../../approvals/approvals.js';
import type { Intent } from '../../routing/intent.js';
import type { ActContext, Decision } from './context.js';

// An approver's reply to an approval request (issue 17): the chain (src/approvals) decides whether it
// counts — the approver whose turn it is, authenticated as staff mail is — and moves it; the mail it
// writes (the next approver's request, staff's notice) is queued after the commit with the rest.
export async function answerApprovalReply(x: ActContext, i: Extract<Intent, { kind: 'approval-reply' }>): Promise<Decision> {
  const r = await answerApproval(x.app, x.c, x.actor, {
    approvalId: i.approvalId,
    from: x.m.from?.address.toLowerCase() ?? null,
    authenticated: i.authenticated,
    authReason: i.authReason,
    text: x.m.ownText,
    journalId: x.row.id,
    messageId: x.m.messageId,
  });
  x.notify.outbox.push(...r.outbox);
  return { outcome: r.outcome, reason: r.reason, ...(r.recordId ? { recordId: r.recordId } : {}), ...(r.ref ? { ref: r.ref } : {}), details: { approval: i.approvalId } };
}
