import { describe, expect, it } from 'vitest';
import type { ParsedMessage } from '../../src/inbound/types.js';
import { replyToken } from '../../src/outbound/tokens.js';
import type { OutboxFact, RecordFact } from '../../src/routing/intent.js';
import { route, type RoutingFacts } from '../../src/routing/route.js';

// route() is pure: a parsed message and the facts gathered for it → an intent. No database here.

const SECRET = 'route-test-secret-0123456789abcdef';
const deal: RecordFact = {
  id: 1, ref: 'DL-2026-00001', type: 'deal', status: 'submitted',
  parties: [
    { id: 10, key: 'bank-sever', kind: 'bank', name: 'АО «Банк Северный»', role: 'recipient', emails: ['n.pavlova@bank-sever.example'], phone: null },
    { id: 11, key: 'client-smirnov', kind: 'client', name: 'Смирнов А. В.', role: 'client', emails: ['a.smirnov@example.ru'], phone: '+7 916 123-45-67' },
    { id: 12, key: 'lawyer-ershov', kind: 'lawyer', name: 'Ершов', role: 'participant', emails: ['a.ershov@ershov-law.example'], phone: null },
  ],
};
const sent: OutboxFact = { id: 7, message_id: '<out-7@dossier.example>', record_id: 1, party_id: 10, ref: deal.ref, party: 'bank-sever', to_addresses: ['АО «Банк Северный» <n.pavlova@bank-sever.example>'], status: 'sent' };

function msg(o: Partial<ParsedMessage>): ParsedMessage {
  return { messageId: '<m@x>', inReplyTo: null, references: [], from: null, replyTo: [], to: [], cc: [], deliveredTo: [], subject: '', subjectCore: '', date: null, ownText: '', text: '', forwarded: null, attachments: [], auto: null, bounce: null, ours: false, authResults: [], warnings: [], headers: new Map(), dateOffset: null, fromCount: 1, fromAddresses: [], outlookMsg: null, tooLarge: null, dropped: [], ...o };
}
function facts(o: Partial<RoutingFacts> = {}): RoutingFacts {
  const records = new Map([[deal.ref, deal]]);
  return {
    ourMessages: new Map([[sent.message_id, sent]]),
    records,
    tokenOwner: (ref, token) => records.get(ref)?.parties.find((p) => replyToken(SECRET, ref, p.key) === token)?.key ?? null,
    staff: new Set(['manager@dossier.example']),
    staffAuthPassed: true,
    nameMatches: [],
    senderCount: 1,
    perSenderPerHour: 100,
    ...o,
  };
}
const from = (address: string) => ({ name: '', address });
const bounce = (deliveries: { address: string; action: string }[]) => ({ originalMessageId: sent.message_id, returnedSubject: null, recipients: [], status: '5.1.1', diagnostic: 'no such user', deliveries: deliveries.map((d) => ({ ...d, status: null, diagnostic: null })) }) as unknown as ParsedMessage['bounce'];

describe('route: the intent of a message', () => {
  it('noise: our own mail back, auto-replies, lists, reports about mail we did not send', () => {
    expect(route(msg({ ours: true }), facts())).toMatchObject({ kind: 'noise', reason: expect.stringContaining('X-Dossier-Loop') });
    expect(route(msg({ auto: 'auto-reply', from: from('n.pavlova@bank-sever.example') }), facts())).toMatchObject({ kind: 'noise' });
    expect(route(msg({ auto: 'list' }), facts())).toMatchObject({ kind: 'noise', reason: expect.stringContaining('mailing-list') });
    expect(route(msg({ bounce: { originalMessageId: '<other@x>', returnedSubject: null, recipients: [], deliveries: [], status: null, diagnostic: null } }), facts())).toMatchObject({ kind: 'noise' });
  });

  it('bounce and delivery status: by action, and only for the row’s own recipients', () => {
    expect(route(msg({ bounce: bounce([{ address: 'n.pavlova@bank-sever.example', action: 'failed' }]) }), facts())).toMatchObject({ kind: 'bounce', outbox: { id: 7 }, recipients: ['n.pavlova@bank-sever.example'] });
    expect(route(msg({ bounce: bounce([{ address: 'N.Pavlova@bank-sever.example', action: 'delayed' }]) }), facts())).toMatchObject({ kind: 'delivery-status', action: 'delayed' });
    expect(route(msg({ bounce: bounce([{ address: 'n.pavlova@bank-sever.example', action: 'delivered' }]) }), facts())).toMatchObject({ kind: 'delivery-status', action: 'delivered' });
    expect(route(msg({ bounce: bounce([{ address: 'someone@else.example', action: 'failed' }]) }), facts())).toMatchObject({ kind: 'quarantine', reason: expect.stringContaining('someone@else.example') });
    // A parse without per-recipient lines: the failed recipients only.
    expect(route(msg({ bounce: { originalMessageId: sent.message_id, returnedSubject: null, recipients: ['n.pavlova@bank-sever.example'], deliveries: [], status: '5.1.1', diagnostic: null } }), facts())).toMatchObject({ kind: 'bounce', why: '5.1.1' });
  });

  it('staff decision: the deciding bank from the forwarded mail, the facts said', () => {
    const m = msg({ from: from('manager@dossier.example'), subject: `FW: [${deal.ref}] Решение`, ownText: 'одобрено, сумма 1 500 000', forwarded: { from: from('n.pavlova@bank-sever.example'), to: [], date: null, subject: 'Решение', text: '', kind: 'inline', attachments: [], dateOffset: null } });
    const i = route(m, facts());
    expect(i).toMatchObject({ kind: 'staff-decision', record: { ref: deal.ref }, party: { key: 'bank-sever' }, command: { decision: 'approved', amount: '1500000.00' }, via: 'subject' });
    expect(i.facts).toEqual([`subject tag ${deal.ref}`, 'from staff address manager@dossier.example, authenticated', 'the forwarded mail is from bank-sever (n.pavlova@bank-sever.example)']);
  });

  it('refusals: unverified staff, an ambiguous command, no record, no deciding party', () => {
    const staff = { from: from('manager@dossier.example'), subject: `[${deal.ref}]` };
    expect(route(msg({ ...staff, ownText: 'одобрено' }), facts({ staffAuthPassed: false }))).toMatchObject({ kind: 'refusal', outcome: 'quarantined', problem: { code: 'staff-unverified' } });
    expect(route(msg({ ...staff, ownText: 'одобрено или отказ?' }), facts())).toMatchObject({ kind: 'refusal', outcome: 'refused', problem: { code: 'ambiguous' } });
    expect(route(msg({ from: staff.from, ownText: 'одобрено' }), facts())).toMatchObject({ kind: 'refusal', problem: { code: 'no-record' } });
    expect(route(msg({ from: staff.from, ownText: 'одобрено' }), facts({ nameMatches: ['DL-2026-00001', 'DL-2026-00002'] }))).toMatchObject({ kind: 'refusal', problem: { code: 'no-record', ambiguousNames: ['DL-2026-00001', 'DL-2026-00002'] } });
    expect(route(msg({ ...staff, ownText: 'одобрено' }), facts())).toMatchObject({ kind: 'refusal', problem: { code: 'no-deciding-party', recipients: ['bank-sever'] } });
  });

  it('staff note: staff mail about a record without a command; a client-name match finds the record', () => {
    expect(route(msg({ from: from('manager@dossier.example'), subject: `[${deal.ref}] скан паспорта`, ownText: 'Прикладываю скан.' }), facts())).toMatchObject({ kind: 'staff-note', record: { ref: deal.ref } });
    expect(route(msg({ from: from('manager@dossier.example'), subject: 'Смирнов', ownText: 'Прикладываю скан.' }), facts({ nameMatches: [deal.ref] }))).toMatchObject({ kind: 'staff-note', via: 'name' });
  });

  it('party documents only from the token’s own party; a bare reference authorises nothing', () => {
    const token = replyToken(SECRET, deal.ref, 'lawyer-ershov');
    const reply = { subject: `Re: [${deal.ref} ${token}] Пакет`, ownText: 'Претензия во вложении.' };
    expect(route(msg({ ...reply, from: from('a.ershov@ershov-law.example') }), facts())).toMatchObject({ kind: 'party-documents', party: { key: 'lawyer-ershov' }, via: 'token' });
    expect(route(msg({ ...reply, from: from('mallory@evil.example') }), facts())).toMatchObject({ kind: 'quarantine', reason: expect.stringContaining('reply token of lawyer-ershov') });
    // Another address at the party's domain: only when the party declared that domain as its own.
    expect(route(msg({ ...reply, from: from('secretary@ershov-law.example') }), facts())).toMatchObject({ kind: 'quarantine', reason: expect.stringContaining('reply token of lawyer-ershov') });
    const withDomain = { ...deal, parties: deal.parties.map((p) => (p.key === 'lawyer-ershov' ? { ...p, domains: ['ershov-law.example'] } : p)) };
    expect(route(msg({ ...reply, from: from('secretary@ershov-law.example') }), facts({ records: new Map([[deal.ref, withDomain]]) }))).toMatchObject({ kind: 'party-documents', party: { key: 'lawyer-ershov' } });
    expect(route(msg({ ...reply, from: from('secretary@sub.ershov-law.example') }), facts({ records: new Map([[deal.ref, withDomain]]) }))).toMatchObject({ kind: 'quarantine' });
    expect(route(msg({ subject: `[${deal.ref}]`, from: from('a.ershov@ershov-law.example') }), facts())).toMatchObject({ kind: 'quarantine', reason: expect.stringContaining('a reference number alone authorises nothing') });
    expect(route(msg({ inReplyTo: sent.message_id, from: from('n.pavlova@bank-sever.example') }), facts())).toMatchObject({ kind: 'quarantine', via: 'reply', record: { ref: deal.ref } });
  });

  it('quarantine: a sender over the hourly limit', () => {
    expect(route(msg({ from: from('x@y.example') }), facts({ senderCount: 101 }))).toMatchObject({ kind: 'quarantine', reason: expect.stringContaining('rate limit') });
  });
});
