import { execFileSync } from 'node:child_process';
import { mkdir, readdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor, openApp, type App } from '../../src/app.js';
import { ingest } from '../../src/inbound/ingest.js';
import { maildirPath, ensureMaildir, pollMaildir } from '../../src/inbound/maildir.js';
import { parseMessage } from '../../src/inbound/parse.js';
import { outboxMessage } from '../../src/outbound/outbox.js';
import { tokenSecret } from '../../src/outbound/settings.js';
import { issueReplyToken } from '../../src/outbound/tokens.js';
import { fixturesDir } from '../../src/paths.js';
import { importRecords } from '../../src/schemas/bulk.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { eml, filePart } from '../helpers/mail.js';

// Nothing dropped in silence (issue 13): a file over the size or count limit makes the outcome
// "partial", named with its reason in `mail list`/`mail show` and in the acknowledgement to the
// sender; a message over maxMessageBytes is quarantined and its sender told; a Maildir file that
// cannot be read is journaled (quarantined, with why) and moved out of new/. Real PostgreSQL.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let app: App;
let claim: string;
let token: string;

const LAWYER = 'a.ershov@ershov-law.example';

function lawyerMail(id: string, files: { name: string; bytes: number }[], subjectTail = ''): Buffer {
  return eml([
    `From: =?UTF-8?B?${Buffer.from('Ершов Андрей').toString('base64')}?= <${LAWYER}>`,
    'To: intake@dossier.example',
    `Subject: Re: documents [${claim} ${token}]${subjectTail}`,
    'Date: Wed, 18 Nov 2026 09:00:00 +0300',
    `Message-ID: <${id}@ershov-law.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    'X-Mailer: Microsoft Outlook 16.0',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Направляю документы по делу.',
    ...files.flatMap((f) => filePart('b1', f.name, Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(f.bytes, 0x41)]))),
    '--b1--',
  ]);
}

/** The text of each outbox mail to `to` (as the recipient will read it). */
async function mailTo(to: string): Promise<{ subject: string; text: string }[]> {
  const rows = (await app.db.query<{ id: number; subject: string }>(`SELECT id, subject FROM outbox WHERE $1 = ANY(to_addresses) OR EXISTS (SELECT 1 FROM unnest(to_addresses) a WHERE a LIKE '%<' || $1 || '>') ORDER BY id`, [to])).rows;
  return Promise.all(rows.map(async (r) => ({ subject: r.subject, text: (await parseMessage((await outboxMessage(app, r.id)).eml, { maxAttachmentBytes: 1e8, maxMessageBytes: 1e9, maxAttachments: 100 })).text })));
}

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir(), {
    DOSSIER_MAIL__TOKEN_SECRET: 'intake-drops-secret-0123456789',
    DOSSIER_INTAKE__LIMITS__MAX_ATTACHMENT_BYTES: '60000',
    DOSSIER_INTAKE__LIMITS__MAX_ATTACHMENTS: '3',
    DOSSIER_INTAKE__LIMITS__MAX_MESSAGE_BYTES: '400000',
  });
  app = await openApp({ env });
  const [c] = await importRecords(app, cliActor(env), 'claim', path.join(fixturesDir, 'records', 'claim.json'));
  claim = c!.ref;
  const ids = (await app.db.query<{ recordId: number; partyId: number }>(`SELECT r.id AS "recordId", p.id AS "partyId" FROM records r JOIN record_parties rp ON rp.record_id = r.id JOIN parties p ON p.id = rp.party_id WHERE r.ref = $1 AND p.key = 'lawyer-ershov'`, [claim])).rows[0]!;
  token = await issueReplyToken(app.db, await tokenSecret(app), { ...ids, ref: claim, partyKey: 'lawyer-ershov' });
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('nothing dropped in silence', () => {
  it('a file over the size limit: partial, named with why in the journal, mail list/show and the acknowledgement', async () => {
    const r = await ingest(app, lawyerMail('big-file', [{ name: 'akt.pdf', bytes: 1000 }, { name: 'skan-ogromnyi.pdf', bytes: 70_000 }]), 'big-file.eml');
    expect(r.outcome).toBe('partial');
    expect(r.reason).toContain('skan-ogromnyi.pdf');
    const row = (await app.db.query(`SELECT outcome, dropped FROM inbound_messages WHERE id = $1`, [r.id])).rows[0];
    expect(row.dropped).toEqual([expect.objectContaining({ file: 'skan-ogromnyi.pdf', why: 'size', reason: expect.stringContaining('over the') })]);
    const files = (await app.db.query(`SELECT a.file_name FROM attachments a JOIN records r ON r.id = a.record_id WHERE r.ref = $1`, [claim])).rows.map((x) => x.file_name);
    expect(files).toContain('akt.pdf');
    expect(files).not.toContain('skan-ogromnyi.pdf');

    const list = await dossier(['mail', 'list'], env);
    expect(list.stdout).toMatch(/partial/);
    expect(list.stdout).toContain('skan-ogromnyi.pdf');
    const show = await dossier(['mail', 'show', String(r.id)], env);
    expect(show.stdout).toMatch(/not taken\s+skan-ogromnyi\.pdf: .*over the/);

    const ack = (await mailTo(LAWYER)).at(-1)!;
    expect(ack.text).toContain('akt.pdf');
    expect(ack.text).toMatch(/не принято:\s*- skan-ogromnyi\.pdf: 0\.1 MB — больше допустимых 0\.1 MB на один файл/);
  });

  it('files over the count limit: partial, the ones not taken named', async () => {
    const r = await ingest(app, lawyerMail('many-files', [1, 2, 3, 4, 5].map((i) => ({ name: `page-${i}.pdf`, bytes: 100 + i }))), 'many.eml');
    expect(r.outcome).toBe('partial');
    const row = (await app.db.query(`SELECT dropped FROM inbound_messages WHERE id = $1`, [r.id])).rows[0];
    expect(row.dropped.map((d: { file: string }) => d.file)).toEqual(['page-4.pdf', 'page-5.pdf']);
    const ack = (await mailTo(LAWYER)).at(-1)!;
    expect(ack.text).toContain('- page-4.pdf: сверх 3 файлов в одном письме');
    expect(ack.text).toContain('- page-5.pdf');
  });

  it('a message over maxMessageBytes: quarantined, not "ignored", and its sender told why', async () => {
    const before = (await mailTo(LAWYER)).length;
    const r = await ingest(app, lawyerMail('huge', [{ name: 'tom-1.pdf', bytes: 50_000 }, { name: 'tom-2.pdf', bytes: 50_000 }, { name: 'tom-3.pdf', bytes: 50_000 }, { name: 'tom-4.pdf', bytes: 50_000 }, { name: 'tom-5.pdf', bytes: 50_000 }, { name: 'tom-6.pdf', bytes: 50_000 }]), 'huge.eml');
    expect(r.outcome).toBe('quarantined');
    expect(r.reason).toMatch(/over the 391 KB limit \(intake.limits.maxMessageBytes\): not read; the sender was told/);
    const answers = await mailTo(LAWYER);
    expect(answers.length).toBe(before + 1);
    expect(answers.at(-1)!.text).toMatch(/больше допустимых 0\.4 MB/);
  });

  it('a Maildir file Node cannot read (a directory, a named pipe, a file over 2 GiB) is journaled, quarantined with why and moved out of new/', async () => {
    const dir = maildirPath(app);
    await ensureMaildir(dir);
    await mkdir(path.join(dir, 'new', '1700000000.dir.host'));
    execFileSync('mkfifo', [path.join(dir, 'new', '1700000001.fifo.host')]);
    const big = path.join(dir, 'new', '1700000002.big.host');
    await writeFile(big, lawyerMail('sparse', []));
    await truncate(big, 2 ** 31 + 10); // sparse: no disk used
    await writeFile(path.join(dir, 'new', '1700000003.empty.host'), '');
    const results = await pollMaildir(app);
    expect(results.map((r) => r.outcome)).toEqual(['quarantined', 'quarantined', 'quarantined', 'quarantined']);
    expect(await readdir(path.join(dir, 'new'))).toEqual([]);
    expect((await readdir(path.join(dir, '.Quarantine', 'cur'))).length).toBe(4);
    const rows = (await app.db.query(`SELECT source_ref, unreadable, reason, from_address FROM inbound_messages WHERE unreadable IS NOT NULL ORDER BY source_ref`)).rows;
    expect(rows.map((x) => x.unreadable)).toEqual(['not a regular file (a directory)', 'not a regular file (a named pipe)', expect.stringContaining('more than the 2 GiB'), 'an empty file']);
    expect(rows[2].from_address).toBe(LAWYER); // the head was read: whose it was is known
    // A second pass finds nothing to do and journals nothing twice.
    expect(await pollMaildir(app)).toEqual([]);

    const status = (await dossier(['status', '--json'], env)).json();
    expect(status.intake.unreadable.total).toBe(4);
    expect(status.intake.partial.total).toBe(2);
    expect(status.intake.lastDay.partial).toBe(2);
    const text = (await dossier(['status'], env)).stdout;
    expect(text).toMatch(/Unreadable files\s+4 in the last 24 h/);
    const show = await dossier(['mail', 'show', String((await app.db.query(`SELECT id FROM inbound_messages WHERE source_ref = '1700000001.fifo.host'`)).rows[0].id)], env);
    expect(show.stdout).toContain('unreadable not a regular file (a named pipe)');
  });
});
