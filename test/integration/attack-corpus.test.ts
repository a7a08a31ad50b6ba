import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor, openApp, type App } from '../../src/app.js';
import { ingest } from '../../src/inbound/ingest.js';
import { parseMessage } from '../../src/inbound/parse.js';
import { fixturesDir } from '../../src/paths.js';
import { changeStatus } from '../../src/records/records.js';
import { importRecords } from '../../src/schemas/bulk.js';
import { tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { AR_PASS, eml, outlookForward } from '../helpers/mail.js';
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
  const rows = await q<{ subject: string; kind: string; raw_sha256: string }>(`SELECT subject, kind, raw_sha256 FROM outbox WHERE EXISTS (SELECT 1 FROM unnest(to_addresses) a WHERE lower(a) = $1 OR lower(a) LIKE '%<' || $1 || '>') ORDER BY id`, [address]);
  return Promise.all(rows.map(async (r) => ({ subject: r.subject, kind: r.kind, text: (await parseMessage(await buffer(await app.blobs.open(r.raw_sha256)), { maxAttachmentBytes: 1e8, maxMessageBytes: 1e9, maxAttachments: 100 })).text })));
}

async function newDeal(): Promise<string> {
  const [d] = await importRecords(app, cliActor(env), 'deal', path.join(fixturesDir, 'records', 'deal.json'));
  await changeStatus(app.db, app.config, cliActor(env), { ref: d!.ref, status: 'submitted' });
  return d!.ref;
}

/** The manager's forward of Bank Severny's approval, its header block rewritten by `edit`. */
function forward(id: string, edit: (headers: string[]) => string[], command = 'одобрено, сумма 9 900 000'): Buffer {
  const raw = outlookForward({
    id,
    auth: null,
    command,
    bankFrom: 'n.pavlova@bank-sever.example',
    bankName: 'Павлова Наталья Сергеевна',
    bankSubject: 'Решение по заявке Смирнов Алексей Викторович',
    bankText: 'По заявке клиента Смирнов Алексей Викторович принято положительное решение: сумма 9 900 000 руб.',
  }).toString('utf8');
  const end = raw.indexOf('\r\n\r\n');
  const headers = raw.slice(0, end).split('\r\n').filter((h) => !h.startsWith('Received:'));
  return Buffer.from(edit(headers).join('\r\n') + raw.slice(end), 'utf8');
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
    ...files.flatMap((f) => [
      '------=_NextPart_000_0001',
      `Content-Type: application/pdf; name="${f.name}"`,
      `Content-Disposition: attachment; filename="${f.name}"`,
      'Content-Transfer-Encoding: base64',
      '',
      ...(Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(f.bytes, 0x41 + (f.name.length % 20))]).toString('base64').match(/.{1,76}/g) ?? []),
    ]),
    '------=_NextPart_000_0001--',
  ]);
}

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
