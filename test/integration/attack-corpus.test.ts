import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor, openApp, type App } from '../../src/app.js';
import { ingest } from '../../src/inbound/ingest.js';
import { parseMessage } from '../../src/inbound/parse.js';
import { outboxMessage } from '../../src/outbound/outbox.js';
import { fixturesDir } from '../../src/paths.js';
import { changeStatus } from '../../src/records/records.js';
import { importRecords } from '../../src/schemas/bulk.js';
import { tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { AR_OURS_FAIL, AR_PASS, eml, filePart, forwardWithHeaders as forward, STAFF_HEADER_FORGERIES, withFrom } from '../helpers/mail.js';
import { tokenSecret } from '../../src/outbound/settings.js';
import { issueReplyToken } from '../../src/outbound/tokens.js';

// The attack corpus of issue 13: forged, replayed and over-limit messages, built the way real mail
// software writes them, through the real intake (journal, parse, route, act, notify) against real
// PostgreSQL, in the shipped mode that reads headers (mta, our MTA mx.dossier.example). What a user
// would check: no forged decision applied, nothing applied twice, every drop an outcome with a
// reason and (for a sender we know) an answer in the outbox.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let app: App;
const MANAGER = 'manager@dossier.example';
const RECEIVED = 'Received: from mail.dossier.example (mail.dossier.example [10.0.0.5]) by mx.dossier.example with ESMTPS; Mon, 16 Nov 2026 10:15:03 +0300';

const q = async <T extends Record<string, unknown> = Record<string, any>>(text: string, params: unknown[] = []) => (await app.db.query<T>(text, params)).rows;
const decisions = async (ref: string) => (await q(`SELECT e.id FROM events e JOIN records r ON r.id = e.record_id WHERE r.ref = $1 AND e.field = 'decision'`, [ref])).length;
const statusOf = async (ref: string) => (await q<{ status: string }>('SELECT status FROM records WHERE ref = $1', [ref]))[0]!.status;
/** Outbox mail to an address: subject and the text its reader sees. */
async function mailTo(address: string): Promise<{ subject: string; text: string; kind: string }[]> {
  const rows = await q<{ id: number; subject: string; kind: string }>(`SELECT id, subject, kind FROM outbox WHERE EXISTS (SELECT 1 FROM unnest(to_addresses) a WHERE lower(a) = $1 OR lower(a) LIKE '%<' || $1 || '>') ORDER BY id`, [address]);
  return Promise.all(rows.map(async (r) => ({ subject: r.subject, kind: r.kind, text: (await parseMessage((await outboxMessage(app, r.id)).eml, { maxAttachmentBytes: 1e8, maxMessageBytes: 1e9, maxAttachments: 100 })).text })));
}

async function newDeal(): Promise<string> {
  const [d] = await importRecords(app, cliActor(env), 'deal', path.join(fixturesDir, 'records', 'deal.json'));
  await changeStatus(app.db, app.config, cliActor(env), { ref: d!.ref, status: 'submitted' });
  return d!.ref;
}

const genuine = (h: string[]) => [AR_PASS, RECEIVED, ...h];

const LAWYER = 'a.ershov@ershov-law.example';
async function newClaim(): Promise<{ ref: string; token: string }> {
  const [c] = await importRecords(app, cliActor(env), 'claim', path.join(fixturesDir, 'records', 'claim.json'));
  const ids = (await q<{ recordId: number; partyId: number }>(`SELECT r.id AS "recordId", p.id AS "partyId" FROM records r JOIN record_parties rp ON rp.record_id = r.id JOIN parties p ON p.id = rp.party_id WHERE r.ref = $1 AND p.key = 'lawyer-ershov'`, [c!.ref]))[0]!;
  return { ref: c!.ref, token: await issueReplyToken(app.db, await tokenSecret(app), { ...ids, ref: c!.ref, partyKey: 'lawyer-ershov' }) };
}
const documentsOf = async (ref: string) => (await q<{ file_name: string }>(`SELECT a.file_name FROM attachments a JOIN records r ON r.id = a.record_id WHERE r.ref = $1 ORDER BY a.id`, [ref])).map((r) => r.file_name);

/** The lawyer's reply to our package as Outlook writes it: his token in the subject, PDFs attached. */
function lawyerReply(o: { id: string; ref: string; token: string; from?: string; headers?: string[]; files?: { name: string; bytes: number }[]; text?: string }): Buffer {
  const files = o.files ?? [{ name: 'doverennost.pdf', bytes: 2000 }];
  return eml([
    ...(o.headers ?? []),
    `From: =?UTF-8?B?${Buffer.from('Ершов Андрей Валерьевич').toString('base64')}?= <${o.from ?? LAWYER}>`,
    'To: intake@dossier.example',
    `Subject: RE: Документы по убытку [${o.ref} ${o.token}]`,
    'Date: Thu, 19 Nov 2026 11:20:00 +0300',
    `Message-ID: <${o.id}@ershov-law.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="----=_NextPart_000_0001"',
    'X-Mailer: Microsoft Outlook 16.0',
    '',
    '------=_NextPart_000_0001',
    'Content-Type: text/plain; charset="utf-8"',
    'Content-Transfer-Encoding: 8bit',
    '',
    o.text ?? 'Добрый день! Направляю доверенность.',
    ...files.flatMap((f) => filePart('----=_NextPart_000_0001', f.name, Buffer.concat([Buffer.from(`%PDF-1.4\n% ${f.name}\n`), Buffer.alloc(f.bytes, 0x41)]))),
    '------=_NextPart_000_0001--',
  ]);
}

/** One more Received line on top, as a second delivery (a forwarder, a retry) adds it. */
const redelivered = (raw: Buffer, by = 'relay2.dossier.example') => Buffer.concat([Buffer.from(`Received: from mx.dossier.example by ${by} with LMTP; Mon, 16 Nov 2026 10:16:40 +0300\r\n`), raw]);
/** The journal rows of messages that were applied (or partly) more than once: must stay empty. */
const appliedTwice = () => q(`SELECT message_id, from_address, count(*)::int AS n FROM inbound_messages WHERE outcome IN ('applied', 'partial') AND message_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1`);


beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir(), { DOSSIER_MAIL__TOKEN_SECRET: 'attack-corpus-secret-0123456789' });
  app = await openApp({ env });
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('rate limits an attacker cannot turn against staff', () => {
  it('61 forged messages claiming the manager neither rate-limit her real decision nor mail her 60 refusals', async () => {
    const deal = await newDeal();
    const before = (await mailTo(MANAGER)).length;
    const forged = [];
    for (let i = 0; i < 61; i++) forged.push(await ingest(app, forward(`flood-${i}`, (h) => [AR_PASS, ...h]), `flood-${i}.eml`));
    expect(forged.every((r) => r.outcome === 'quarantined')).toBe(true);
    expect(forged.at(-1)!.reason).toContain('rate limit'); // the 61st: over 60 unauthenticated this hour
    expect(await decisions(deal)).toBe(0);
    const refusals = (await mailTo(MANAGER)).slice(before);
    expect(refusals.length).toBe(3); // answered at most 3 times an hour
    expect(forged[3]!.reason).toContain('not answered');

    const real = await ingest(app, forward('flood-real', genuine), 'real.eml');
    expect(real.outcome, real.reason).toBe('applied');
    expect(await decisions(deal)).toBe(1);
    expect(await statusOf(deal)).toBe('decided');
    const after = (await mailTo(MANAGER)).slice(before);
    expect(after.length).toBe(4);
    expect(after.at(-1)!.text).toMatch(/Принято/);
  });
});

describe('outside parties', () => {
  it('a closed record refuses the party\'s documents and tells it so', async () => {
    const { ref, token } = await newClaim();
    await q(`UPDATE records SET status = 'closed' WHERE ref = $1`, [ref]);
    const before = (await mailTo(LAWYER)).length;
    const r = await ingest(app, lawyerReply({ id: 'closed-1', ref, token }), 'closed.eml');
    expect(r.outcome).toBe('refused');
    expect(r.reason).toContain('is closed (closed)');
    expect(await documentsOf(ref)).toEqual([]);
    const answers = (await mailTo(LAWYER)).slice(before);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.text).toContain(`дело ${ref} закрыто`);
  });

  it('mail in the party\'s name that fails its domain\'s DMARC (our MTA says so) is quarantined, unanswered', async () => {
    const { ref, token } = await newClaim();
    const before = (await mailTo(LAWYER)).length;
    const headers = ['Authentication-Results: mx.dossier.example; spf=fail smtp.mailfrom=ershov-law.example; dkim=none; dmarc=fail (p=reject) header.from=ershov-law.example', RECEIVED];
    const r = await ingest(app, lawyerReply({ id: 'dmarc-fail-1', ref, token, headers }), 'dmarc-fail.eml');
    expect(r.outcome).toBe('quarantined');
    expect(r.reason).toMatch(/fails its domain's DMARC: ershov-law\.example publishes DMARC/);
    expect(await documentsOf(ref)).toEqual([]);
    expect((await mailTo(LAWYER)).length).toBe(before);
    // The same reply passing DMARC is taken.
    const ok = await ingest(app, lawyerReply({ id: 'dmarc-pass-1', ref, token, headers: ['Authentication-Results: mx.dossier.example; dkim=pass header.d=ershov-law.example; dmarc=pass header.from=ershov-law.example', RECEIVED] }), 'dmarc-pass.eml');
    expect(ok.outcome, ok.reason).toBe('applied');
    expect(await documentsOf(ref)).toEqual(['doverennost.pdf']);
  });
});

describe('forged staff decisions', () => {
  let deal: string;
  beforeAll(async () => {
    // The only open deal of this client, so that the genuine forward finds it by the client's name
    // and a forgery is judged on its authentication alone (quarantined), never refused as ambiguous.
    await q(`UPDATE records SET status = 'closed' WHERE type = 'deal'`);
    deal = await newDeal();
  });
  it.each(STAFF_HEADER_FORGERIES.map(([what, edit], i) => [what, edit, i] as const))('%s: nothing applied', async (_what, edit, i) => {
    const r = await ingest(app, forward(`staff-forgery-${i}`, edit), `staff-forgery-${i}.eml`);
    expect(r.outcome, r.reason).toBe('quarantined');
    expect(r.reason.length).toBeGreaterThan(10);
    expect(await decisions(deal)).toBe(0);
    expect(await statusOf(deal)).toBe('submitted');
  });

  it('the genuine decision is applied once: again with one more Received, from a second mailbox, or the same bytes, it is not', async () => {
    const raw = forward('staff-genuine', genuine);
    const first = await ingest(app, raw, 'genuine.eml');
    expect(first.outcome, first.reason).toBe('applied');
    const again = await ingest(app, redelivered(raw), 'genuine-again.eml');
    expect(again.outcome).toBe('ignored');
    expect(again.reason).toMatch(/a copy of message #\d+/);
    const sameBytes = await ingest(app, raw, 'genuine-same-bytes.eml');
    expect(sameBytes.duplicate).toBe(true);
    const { journal } = await import('../../src/inbound/journal.js');
    const { processMessage } = await import('../../src/inbound/process.js');
    const second = await journal(app, Buffer.concat([Buffer.from('Delivered-To: claims@dossier.example\r\n'), raw]), { mailbox: 'claims', uidvalidity: 1, uid: 7 });
    expect((await processMessage(app, second.row.id))!.outcome).toBe('ignored');
    expect(await decisions(deal)).toBe(1);
    const confirmations = (await mailTo(MANAGER)).filter((m) => m.text.includes(deal) && /Принято/.test(m.text));
    expect(confirmations).toHaveLength(1);
    const client = await q(`SELECT count(*)::int AS n FROM sms_outbox s JOIN records r ON r.id = s.record_id WHERE r.ref = $1`, [deal]);
    expect(client[0]!.n).toBe(1); // the client texted once
  });
});

describe('forged, replayed and over-limit party mail', () => {
  let claim: { ref: string; token: string };
  beforeAll(async () => {
    claim = await newClaim();
    await q(`UPDATE parties SET domains = ARRAY['ershov-law.example'] WHERE key = 'lawyer-ershov'`);
  });
  const forgeries: [string, () => Buffer][] = [
    ['the token from a forwarded copy, used from the forwarder\'s own address', () => lawyerReply({ id: 'p-fwd', ref: claim.ref, token: claim.token, from: 'assistant@other-firm.example' })],
    ['the token with a forged From at a public provider', () => lawyerReply({ id: 'p-public', ref: claim.ref, token: claim.token, from: 'ershov.law@gmail.com' })],
    ['the token from a subdomain of the party\'s declared domain', () => lawyerReply({ id: 'p-sub', ref: claim.ref, token: claim.token, from: 'a.ershov@mail.ershov-law.example' })],
    ['the token from a look-alike domain', () => lawyerReply({ id: 'p-lookalike', ref: claim.ref, token: claim.token, from: 'a.ershov@ershov-law.example.evil.example' })],
    ['a made-up token', () => lawyerReply({ id: 'p-made-up', ref: claim.ref, token: 'k7f3q9' })],
    ['the party\'s address and two From addresses', () => { const raw = lawyerReply({ id: 'p-two-from', ref: claim.ref, token: claim.token }).toString('utf8'); return Buffer.from(raw.replace(`<${LAWYER}>`, `<${LAWYER}>, attacker@evil.example`), 'utf8'); }],
  ];
  it.each(forgeries)('%s: no documents added', async (_what, build) => {
    const r = await ingest(app, build(), 'party-forgery.eml');
    expect(r.outcome).toBe('quarantined');
    expect(r.reason.length).toBeGreaterThan(10);
    expect(await documentsOf(claim.ref)).toEqual([]);
  });

  it('another record\'s token: no documents added to either', async () => {
    const other = await newClaim();
    const r = await ingest(app, lawyerReply({ id: 'p-cross', ref: claim.ref, token: other.token }), 'cross.eml');
    expect(r.outcome).toBe('quarantined');
    expect(await documentsOf(claim.ref)).toEqual([]);
    expect(await documentsOf(other.ref)).toEqual([]);
  });

  it('an expired and a revoked token: no documents added, the journal says why', async () => {
    const expired = await newClaim();
    await q(`UPDATE reply_tokens t SET issued_at = now() - interval '200 days' FROM records r WHERE r.id = t.record_id AND r.ref = $1`, [expired.ref]);
    const a = await ingest(app, lawyerReply({ id: 'p-expired', ref: expired.ref, token: expired.token }), 'expired.eml');
    expect(a.outcome).toBe('quarantined');
    const revoked = await newClaim();
    const { revokeReplyToken } = await import('../../src/outbound/tokens.js');
    await revokeReplyToken(app.db, cliActor(env), revoked.ref, 'lawyer-ershov');
    const b = await ingest(app, lawyerReply({ id: 'p-revoked', ref: revoked.ref, token: revoked.token }), 'revoked.eml');
    expect(b.outcome).toBe('quarantined');
    const details = await q<{ d: string }>(`SELECT details::text AS d FROM inbound_messages WHERE id = ANY($1)`, [[a.id, b.id]]);
    expect(details.map((x) => x.d).join(' ')).toMatch(/reply token expired[\s\S]*reply token revoked|reply token revoked[\s\S]*reply token expired/);
    expect(await documentsOf(expired.ref)).toEqual([]);
    expect(await documentsOf(revoked.ref)).toEqual([]);
  });

  it('the party\'s real reply, delivered twice (one more Received) and copied to a second mailbox: documents added and acknowledged once', async () => {
    const raw = lawyerReply({ id: 'p-real', ref: claim.ref, token: claim.token, files: [{ name: 'pretenziya.pdf', bytes: 3000 }] });
    const before = (await mailTo(LAWYER)).length;
    expect((await ingest(app, raw, 'real.eml')).outcome).toBe('applied');
    expect((await ingest(app, redelivered(raw), 'real-again.eml')).outcome).toBe('ignored');
    expect((await ingest(app, redelivered(raw, 'mx2.dossier.example'), 'real-copy.eml')).outcome).toBe('ignored');
    expect(await documentsOf(claim.ref)).toEqual(['pretenziya.pdf']);
    expect((await mailTo(LAWYER)).length).toBe(before + 1);
  });

  it('over the limits: every drop an outcome with its reason, and the party told which files and why', async () => {
    const before = (await mailTo(LAWYER)).length;
    // One file over maxAttachmentBytes (25 MB): partial.
    const big = await ingest(app, lawyerReply({ id: 'p-big-file', ref: claim.ref, token: claim.token, files: [{ name: 'opis.pdf', bytes: 500 }, { name: 'video-dtp.pdf', bytes: 26 * 1024 * 1024 }] }), 'big-file.eml');
    expect(big.outcome).toBe('partial');
    expect(big.reason).toContain('video-dtp.pdf');
    // 2,000 attachments: 50 kept, the rest named (or counted) in the answer.
    const many = await ingest(app, lawyerReply({ id: 'p-2000', ref: claim.ref, token: claim.token, files: Array.from({ length: 2000 }, (_, i) => ({ name: `list-${String(i + 1).padStart(4, '0')}.pdf`, bytes: 40 })) }), '2000.eml');
    expect(many.outcome).toBe('partial');
    const dropped = (await q<{ dropped: { file: string }[] }>(`SELECT dropped FROM inbound_messages WHERE id = $1`, [many.id]))[0]!.dropped;
    expect(dropped.length).toBeGreaterThan(50);
    expect(dropped.at(-1)!.file).toMatch(/more MIME part|more file/);
    expect((await documentsOf(claim.ref)).filter((f) => f.startsWith('list-'))).toHaveLength(50);
    // A message over maxMessageBytes (50 MB): quarantined, not read, the party told.
    const huge = await ingest(app, lawyerReply({ id: 'p-huge', ref: claim.ref, token: claim.token, files: [{ name: 'arhiv-1.pdf', bytes: 20 * 1024 * 1024 }, { name: 'arhiv-2.pdf', bytes: 20 * 1024 * 1024 }] }), 'huge.eml');
    expect(huge.outcome).toBe('quarantined');
    expect(huge.reason).toMatch(/over the 50 MB limit .*the sender was told/);
    const answers = (await mailTo(LAWYER)).slice(before);
    expect(answers).toHaveLength(3);
    expect(answers[0]!.text).toMatch(/не принято:\s*- video-dtp\.pdf: 26 MB — больше допустимых 25 MB на один файл/);
    expect(answers[1]!.text).toContain('- list-0051.pdf: сверх 50 файлов в одном письме');
    expect(answers[2]!.text).toMatch(/больше допустимых 50 MB/);
    expect(await documentsOf(claim.ref)).not.toContain('arhiv-1.pdf');
  });

  it('an over-size message from a stranger is quarantined with its reason and never answered (no backscatter)', async () => {
    const raw = lawyerReply({ id: 'p-stranger-huge', ref: claim.ref, token: 'zzzzzz', from: 'spam@evil.example', files: [{ name: 'x.pdf', bytes: 51 * 1024 * 1024 }] });
    const r = await ingest(app, raw, 'stranger-huge.eml');
    expect(r.outcome).toBe('quarantined');
    expect(r.reason).toMatch(/over the 50 MB limit .*not answered/);
    expect(await mailTo('spam@evil.example')).toEqual([]);
  });
});

describe('the corpus as a whole', () => {
  it('nothing applied twice; every message has an outcome and a reason', async () => {
    expect(await appliedTwice()).toEqual([]);
    const rows = await q<{ n: number; total: number }>(`SELECT count(*) FILTER (WHERE outcome IS NULL OR coalesce(reason, '') = '')::int AS n, count(*)::int AS total FROM inbound_messages`);
    expect(rows[0]!.n).toBe(0);
    expect(rows[0]!.total).toBeGreaterThanOrEqual(40 + 62);
  });
});
