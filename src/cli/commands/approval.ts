import type { Actor, App } from '../../app.js';
import { startApproval } from '../../approvals/approvals.js';
import { listApprovals, type ApprovalView } from '../../approvals/view.js';
import { formatTable } from '../output.js';

// Issue 17: `dossier approval <ref>` and `dossier approval start <ref>`.

export const approvalStartCmd = async (app: App, actor: Actor, ref: string, o: { chain?: string; doc?: string }) => ({ ...(await startApproval(app, actor, ref, { chain: o.chain, doc: o.doc })), timeZone: app.config.deadlines.timeZone });
export const approvalListCmd = async (app: App, ref: string) => ({ ref, timeZone: app.config.deadlines.timeZone, approvals: await listApprovals(app, ref) });

const when = (tz: string, d: Date | null) => (d ? new Intl.DateTimeFormat('sv-SE', { timeZone: tz, dateStyle: 'short', timeStyle: 'short' }).format(d) : '—');
const STATE: Record<string, string> = { waiting: 'waiting', asked: 'ASKED', approved: 'approved', rejected: 'REJECTED' };

export function renderApproval(a: ApprovalView, tz: string): string {
  const head = `Approval #${a.id} of ${a.ref}: ${a.title} — #${a.attachment} ${a.file} — ${a.status.toUpperCase()} (started by ${a.startedBy}, ${when(tz, a.startedAt)}${a.finishedAt ? `; finished ${when(tz, a.finishedAt)}` : ''})`;
  const table = formatTable(
    ['step', 'approver', 'state', 'asked', 'decided', 'reason / comment'],
    a.steps.map((s) => [s.position, `${s.name ? `${s.name} ` : ''}${s.approver}`, STATE[s.state] ?? s.state, when(tz, s.askedAt), when(tz, s.decidedAt), s.reason ?? '']),
  );
  const refused = a.notCounted.map((n) => `  not counted ${when(tz, n.at)}: ${n.from} — ${n.why}${n.journal ? ` (mail #${n.journal})` : ''}`);
  return [head, table, ...refused].join('\n');
}

export const renderApprovalList = (v: { ref: string; timeZone: string; approvals: ApprovalView[] }) =>
  v.approvals.length ? v.approvals.map((a) => renderApproval(a, v.timeZone)).join('\n\n') : `${v.ref}: no approvals (dossier approval start ${v.ref} --chain <name>).`;
export const renderApprovalStarted = (a: ApprovalView & { timeZone: string }) => `${renderApproval(a, a.timeZone)}\nThe request to ${a.steps[0]?.approver} is queued; the worker sends it.`;
