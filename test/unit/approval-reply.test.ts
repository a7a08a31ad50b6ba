import { describe, expect, it } from 'vitest';
import { approvalIdIn, readApprovalReply } from '../../src/approvals/reply.js';

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
