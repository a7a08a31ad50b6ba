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
import { AR_PASS, outlookForward } from '../helpers/mail.js';

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
