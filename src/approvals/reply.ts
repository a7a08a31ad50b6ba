// Approvals by reply, the pure part: the tag an approval request carries in its subject, and what an
// approver's reply says. No imports: routing (src/routing/route.ts) reads the tag.

/** "[APR-12]": the approval a request (and every reply to it) is about. */
export const approvalTag = (id: number) => `[APR-${id}]`;

/** The approval a subject names, or null. Several different tags name none (nothing is guessed). */
export function approvalIdIn(subject: string): number | null {
  const ids = new Set([...subject.matchAll(/\[\s*APR-(\d{1,12})\s*\]/gi)].map((m) => Number(m[1])));
  return ids.size === 1 ? [...ids][0]! : null;
}

export type ApprovalVerdict = { verdict: 'approved'; comment: string } | { verdict: 'rejected'; reason: string } | { verdict: 'unclear' };

const YES = /^(?:согласовано|согласовываю|согласен|согласна|одобряю|approved?|agreed?|ok|ок)(?![\p{L}\p{N}])[\s.,:;!—–-]*(.*)$/isu;
const NO = /^(?:отклонено|отклоняю|не\s+согласовано|не\s+согласен|не\s+согласна|отказ|rejected?|declined?|not\s+approved)(?![\p{L}\p{N}])[\s.,:;!—–-]*(.*)$/isu;

/**
 * What the approver's own text (quoted history removed) says, read from its first line that is not
 * empty: «согласовано» / «approved» (anything after it is a comment), «отклонено: причина» /
 * «rejected: reason» (the rest of the line and the lines after it, up to a signature, are the reason).
 */
export function readApprovalReply(ownText: string): ApprovalVerdict {
  const lines = ownText.replace(/\r/g, '').split('\n').map((l) => l.trim());
  const first = lines.findIndex((l) => l !== '');
  if (first < 0) return { verdict: 'unclear' };
  const head = lines[first]!;
  const rest = lines.slice(first + 1);
  const sig = rest.findIndex((l) => l === '--' || /^(с уважением|best regards|regards|kind regards)/i.test(l));
  const upToSignature = (sig < 0 ? rest : rest.slice(0, sig)).filter(Boolean);
  const no = NO.exec(head);
  if (no) return { verdict: 'rejected', reason: [no[1]!.trim(), ...upToSignature].filter(Boolean).join(' ').slice(0, 2000) };
  const yes = YES.exec(head);
  if (yes) return { verdict: 'approved', comment: yes[1]!.trim().slice(0, 2000) };
  return { verdict: 'unclear' };
}
