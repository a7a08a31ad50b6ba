import { describe, expect, it } from 'vitest';
import { approvalIdIn, readApprovalReply } from '../../src/approvals/reply.js';
import type { ParsedMessage } from '../../src/inbound/types.js';
import { route, type RoutingFacts } from '../../src/routing/route.js';

describe('approval replies', () => {
  it('finds the approval tag in a reply subject, and none when two differ', () => {
    expect(approvalIdIn('Re: [DL-2026-00001] [APR-12] Согласование: Договор')).toBe(12);
    expect(approvalIdIn('AW: RE: [apr-7] x')).toBe(7);
    expect(approvalIdIn('[APR-1] [APR-2]')).toBeNull();
    expect(approvalIdIn('[DL-2026-00001] APR-3')).toBeNull();
  });
  it('reads approved and rejected with a reason, in Russian and English', () => {
    expect(readApprovalReply('\n Согласовано.\n\nС уважением')).toEqual({ verdict: 'approved', comment: '' });
    expect(readApprovalReply('approved, with a note')).toEqual({ verdict: 'approved', comment: 'with a note' });
    expect(readApprovalReply('Отклонено: нет подписи\nна стр. 3\n--\nИван')).toEqual({ verdict: 'rejected', reason: 'нет подписи на стр. 3' });
    expect(readApprovalReply('rejected - wrong amount')).toEqual({ verdict: 'rejected', reason: 'wrong amount' });
    expect(readApprovalReply('Не согласовано: срок')).toEqual({ verdict: 'rejected', reason: 'срок' });
    // A word that only starts like one is not one; neither is a question.
    expect(readApprovalReply('согласованность проверю')).toEqual({ verdict: 'unclear' });
    expect(readApprovalReply('okay?')).toEqual({ verdict: 'unclear' });
    expect(readApprovalReply('')).toEqual({ verdict: 'unclear' });
  });
});

describe('route: replies to an approval request', () => {
  const msg = (o: Partial<ParsedMessage>): ParsedMessage => ({ messageId: '<m@x>', inReplyTo: null, references: [], from: null, replyTo: [], to: [], cc: [], deliveredTo: [], subject: '', subjectCore: '', date: null, ownText: '', text: '', forwarded: null, attachments: [], auto: null, bounce: null, ours: false, authResults: [], warnings: [], headers: new Map(), dateOffset: null, fromCount: 1, fromAddresses: [], outlookMsg: null, tooLarge: null, dropped: [], ...o });
  const facts = (o: Partial<RoutingFacts>): RoutingFacts => ({ ourMessages: new Map(), records: new Map(), tokenOwner: () => null, staff: new Set(['lawyer@dossier.example']), staffAuthPassed: true, staffAuthReason: 'DKIM signature by dossier.example verified', nameMatches: [], senderCount: 1, perSenderPerHour: 100, ...o });
  const reply = { from: { name: '', address: 'lawyer@dossier.example' }, subject: 'Re: [DL-2026-00001] [APR-4] Согласование: Договор', ownText: 'согласовано' };

  it('goes to the chain, staff address or not, with the authentication verdict', () => {
    expect(route(msg(reply), facts({}))).toMatchObject({ kind: 'approval-reply', approvalId: 4, authenticated: true });
    const forged = route(msg(reply), facts({ staffAuthPassed: false, staffAuthReason: 'the message has no DKIM signature' }));
    expect(forged).toMatchObject({ kind: 'approval-reply', authenticated: false, authReason: 'the message has no DKIM signature' });
    // Not checked at all (no verdict): not authenticated.
    expect(route(msg({ ...reply, from: { name: '', address: 'x@elsewhere.example' } }), facts({ staffAuthPassed: null }))).toMatchObject({ kind: 'approval-reply', authenticated: false });
    // Two From addresses authorise nothing, whatever the check said.
    expect(route(msg({ ...reply, fromCount: 2 }), facts({}))).toMatchObject({ kind: 'approval-reply', authenticated: false });
  });
  it('leaves auto-replies and our own mail as noise', () => {
    expect(route(msg({ ...reply, auto: 'auto-reply' }), facts({})).kind).toBe('noise');
    expect(route(msg({ ...reply, ours: true }), facts({})).kind).toBe('noise');
  });
});
