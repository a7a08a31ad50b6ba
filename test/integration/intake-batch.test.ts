import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor, openApp, type App } from '../../src/app.js';
import { journalBatch } from '../../src/inbound/journal.js';
import { ensureMaildir, maildirPath, pollMaildir } from '../../src/inbound/maildir.js';
import { OutcomeBuffer } from '../../src/inbound/outcomes.js';
import { parseMessage } from '../../src/inbound/parse.js';
import { fixturesDir } from '../../src/paths.js';
import { changeStatus } from '../../src/records/records.js';
import { importRecords } from '../../src/schemas/bulk.js';
import { setFields } from '../../src/schemas/fields.js';
import { tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { AR_PASS, eml, forwardWithHeaders as forward, outlookForward, withFrom } from '../helpers/mail.js';
import { until } from '../helpers/wait.js';

// A fetched batch holds the outcomes that change nothing else (noise, quarantine) and writes them
// in one statement (src/inbound/outcomes.ts). What that must not change: a message that acts still
// sees every outcome decided before it (the staff address's refusals this hour), and a message
// another worker decided meanwhile keeps that worker's outcome and is not moved by this one.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let app: App;
const MANAGER = 'manager@dossier.example';
const DEPUTY = 'deputy@dossier.example';
const RECEIVED = 'Received: from mail.dossier.example (mail.dossier.example [10.0.0.5]) by mx.dossier.example with ESMTPS; Mon, 16 Nov 2026 10:15:03 +0300';
const q = async (text: string, params: unknown[] = []) => (await app.db.query(text, params)).rows;

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir(), { DOSSIER_MAIL__STAFF: `[${MANAGER}, ${DEPUTY}]` });
  app = await openApp({ env });
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('a batch of outcomes written together', () => {
  it('61 forgeries and the manager\'s real decision in one Maildir pass: 3 answers, 61 quarantined, the decision applied and confirmed', async () => {
    const [d] = await importRecords(app, cliActor(env), 'deal', path.join(fixturesDir, 'records', 'deal.json'));
    await changeStatus(app.db, app.config, cliActor(env), { ref: d!.ref, status: 'submitted' });
    const dir = maildirPath(app);
    await ensureMaildir(dir);
    // File names sort in arrival order; all 62 name the same client, so they share one lane.
    for (let i = 0; i < 61; i++) await writeFile(path.join(dir, 'new', `1700000${String(i).padStart(3, '0')}.flood.host`), forward(`batch-flood-${i}`, (h) => [AR_PASS, ...h]));
    await writeFile(path.join(dir, 'new', '1700000999.real.host'), forward('batch-real', (h) => [AR_PASS, RECEIVED, ...h]));

    const results = await pollMaildir(app);
    expect(results).toHaveLength(62);
    const rows = await q(`SELECT message_id, outcome, reason FROM inbound_messages ORDER BY id`);
    const forged = rows.filter((r) => r.message_id.includes('batch-flood'));
    expect(forged).toHaveLength(61);
    expect(forged.every((r) => r.outcome === 'quarantined')).toBe(true);
    expect(forged.filter((r) => /not answered/.test(r.reason)).length).toBe(58); // the 4th on: over the 3 answers an hour
    const real = rows.find((r) => r.message_id.includes('batch-real'))!;
    expect(real.outcome, real.reason).toBe('applied');

    const decisions = await q(`SELECT e.id FROM events e JOIN records r ON r.id = e.record_id WHERE r.ref = $1 AND e.field = 'decision'`, [d!.ref]);
    expect(decisions).toHaveLength(1);
    const toManager = await q(`SELECT subject FROM outbox WHERE $1 = ANY(to_addresses) ORDER BY id`, [MANAGER]);
    expect(toManager).toHaveLength(4); // 3 refusals, then the confirmation
    // Every message left new/, each to the folder its outcome says.
    expect(await readdir(path.join(dir, 'new'))).toEqual([]);
    expect((await readdir(path.join(dir, '.Quarantine', 'cur'))).length).toBe(61);
    expect((await readdir(path.join(dir, '.Processed', 'cur'))).length).toBe(1);
  });

  it('a message that acts sees the outcomes held before it: after 3 auto-replies from a staff address, a forgery from it is not answered', async () => {
    const dir = maildirPath(app);
    const autoReply = (i: number) => eml([
      `From: Deputy <${DEPUTY}>`, 'To: intake@dossier.example', `Subject: Автоматический ответ: Заявка ${i}`, 'Date: Mon, 16 Nov 2026 10:20:00 +0300',
      `Message-ID: <auto-${i}@dossier.example>`, 'Auto-Submitted: auto-replied', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset="utf-8"', '',
      'Я в отпуске до 30 ноября.',
    ]);
    for (let i = 0; i < 3; i++) await writeFile(path.join(dir, 'new', `1800000${i}.auto.host`), autoReply(i));
    await writeFile(path.join(dir, 'new', '18000009.forged.host'), forward('deputy-forged', (h) => [AR_PASS, ...withFrom(h, [`From: Deputy <${DEPUTY}>`])]));
    await pollMaildir(app);
    const rows = await q(`SELECT message_id, outcome, reason FROM inbound_messages WHERE from_address = $1 ORDER BY id`, [DEPUTY]);
    expect(rows.map((r) => r.outcome)).toEqual(['ignored', 'ignored', 'ignored', 'quarantined']);
    // Counted one by one the forgery is the 4th unauthenticated message this hour: past the 3 answers.
    expect(rows[3].reason).toMatch(/not answered/);
    expect(await q(`SELECT id FROM outbox WHERE $1 = ANY(to_addresses)`, [DEPUTY])).toEqual([]);
  });

  it('a message another worker decided meanwhile keeps that outcome: the held one is not written over', async () => {
    const raws = [0, 1].map((i) => forward(`held-${i}`, (h) => h));
    const rows = await journalBatch(app, raws.map((raw, i) => ({ raw, origin: { mailbox: 'maildir', sourceRef: `held-${i}` } })));
    const buffer = new OutcomeBuffer(app.db);
    for (const [i, { row }] of rows.entries()) {
      buffer.hold(row.id, { outcome: 'quarantined', reason: 'held by this batch' }, await parseMessage(raws[i]!, app.config.intake.limits), false);
    }
    // The other worker: its outcome committed before this batch writes its own.
    await q(`UPDATE inbound_messages SET outcome = 'ignored', reason = 'the other worker' WHERE id = $1`, [rows[0]!.row.id]);
    const written = await buffer.flush();
    expect([...written]).toEqual([rows[1]!.row.id]);
    const after = await q(`SELECT id, outcome, reason FROM inbound_messages WHERE id = ANY($1::bigint[]) ORDER BY id`, [rows.map((r) => r.row.id)]);
    expect(after.map((r) => [r.outcome, r.reason])).toEqual([['ignored', 'the other worker'], ['quarantined', 'held by this batch']]);
    // Flushing again writes nothing new and still says what this buffer wrote.
    expect([...(await buffer.flush())]).toEqual([rows[1]!.row.id]);
    // A held message stays held once written (another lane's flush may write it before its own lane
    // asks): the batch moves it only after its last flush, never at once.
    expect(rows.map((r) => buffer.holds(r.row.id))).toEqual([true, true]);
  });
  it('applies one manager\'s decisions on two deals side by side: one held up by a lock does not hold up the other', async () => {
    // Two deals, each named only by its client in the forwarded bank mail (no tag in the subject).
    const deal = async (last: string, first: string, middle: string) => {
      const [d] = await importRecords(app, cliActor(env), 'deal', path.join(fixturesDir, 'records', 'deal.json'));
      await setFields(app, cliActor(env), d!.ref, [['borrower_last_name', last], ['borrower_first_name', first], ['borrower_middle_name', middle]].map(([field, raw]) => ({ party: null, field: field!, raw })), { source: 'cli' });
      await changeStatus(app.db, app.config, cliActor(env), { ref: d!.ref, status: 'submitted' });
      return d!.ref;
    };
    const [a, b] = [await deal('Орлов', 'Павел', 'Игоревич'), await deal('Белов', 'Игорь', 'Сергеевич')];
    const decision = (id: string, client: string) => outlookForward({ id, command: 'одобрено, сумма 2 000 000', bankFrom: 'n.pavlova@bank-sever.example', bankName: 'Павлова Наталья Сергеевна', bankSubject: `Решение по заявке ${client}`, bankText: `По заявке клиента ${client} принято положительное решение.` });
    const dir = maildirPath(app);
    await ensureMaildir(dir);
    await writeFile(path.join(dir, 'new', '1900000001.a.host'), decision('side-a', 'Орлов Павел Игоревич'));
    await writeFile(path.join(dir, 'new', '1900000002.b.host'), decision('side-b', 'Белов Игорь Сергеевич'));
    const outcome = async (id: string) => (await q(`SELECT outcome, reason FROM inbound_messages WHERE message_id = $1`, [`<${id}@dossier.example>`]))[0];

    // Deal A is busy (a colleague's command holds its row): its decision waits for it, B's does not.
    const colleague = new pg.Client({ connectionString: db.url });
    await colleague.connect();
    let pass: Promise<unknown> | undefined;
    try {
      await colleague.query('BEGIN');
      await colleague.query('SELECT id FROM records WHERE ref = $1 FOR UPDATE', [a]);
      pass = pollMaildir(app);
      // (A hang-catcher shorter than the test's own limit, so that a failure says what it waited for.)
      const bDone = await until('the decision on deal B to be applied while deal A is locked', async () => (await outcome('side-b'))?.outcome, 20_000);
      expect(bDone).toBe('applied');
      expect((await outcome('side-a'))?.outcome ?? null).toBeNull();
    } finally {
      await colleague.query('COMMIT').catch(() => {});
      await colleague.end();
      await pass;
    }
    expect(await outcome('side-a')).toMatchObject({ outcome: 'applied', reason: expect.stringContaining('одобрено') });
    const decided = await q(`SELECT r.ref FROM events e JOIN records r ON r.id = e.record_id WHERE e.field = 'decision' AND r.ref = ANY($1) ORDER BY r.ref`, [[a, b]]);
    expect(decided.map((r) => r.ref)).toEqual([a, b].sort());
  });
});
