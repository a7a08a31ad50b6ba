import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor, openApp, type App } from '../../src/app.js';
import { fixturesDir } from '../../src/paths.js';
import { tokenSecret } from '../../src/outbound/settings.js';
import { issueReplyToken } from '../../src/outbound/tokens.js';
import { importRecords } from '../../src/schemas/bulk.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { eml, filePart } from '../helpers/mail.js';

// Passing storage failures (issue 13) against a real small file system: the data home (its blob
// store) on a 2 MB tmpfs, the Maildir elsewhere. A full disk while journaling, a full disk while
// storing an attachment, a read-only remount: each leaves the message for the next pass with one
// line naming STORAGE_UNAVAILABLE and its errno, never exit 3, never a permanent failure; once the
// disk is fixed the same message is applied. Mounting needs root (as the suite runs in CI); as any
// other user this file has nothing to mount and is skipped.

const root = process.getuid?.() === 0;
let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let app: App;
let mnt: string;
let maildir: string;
let claim: string;
let token: string;
const filler = () => path.join(mnt, 'filler');

function reply(id: string, kb: number): Buffer {
  const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from(Array.from({ length: kb * 1024 }, (_, i) => (i * 7919) % 251))]);
  return eml([
    'From: =?UTF-8?B?0JXRgNGI0L7Qsg==?= <a.ershov@ershov-law.example>',
    'To: intake@dossier.example',
    `Subject: RE: documents [${claim} ${token}]`,
    'Date: Thu, 19 Nov 2026 11:20:00 +0300',
    `Message-ID: <${id}@ershov-law.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Направляю документ.',
    ...filePart('b', `${id}.pdf`, pdf),
    '--b--',
  ]);
}

/** Fills the tmpfs until only `leave` bytes are free (0: full). */
async function fill(leave: number): Promise<void> {
  const s = await statfs(mnt);
  const free = s.bavail * s.bsize;
  await writeFile(filler(), Buffer.alloc(Math.max(0, free - leave))).catch(() => {});
  if (leave === 0) await writeFile(path.join(mnt, 'filler-rest'), Buffer.alloc(64 * 1024)).catch(() => {});
}
const unfill = async () => {
  await rm(filler(), { force: true });
  await rm(path.join(mnt, 'filler-rest'), { force: true });
};
const run = () => dossier(['worker', '--until-idle'], env);
const newFiles = () => readdir(path.join(maildir, 'new'));
const documents = async () => (await app.db.query<{ file_name: string }>(`SELECT a.file_name FROM attachments a JOIN records r ON r.id = a.record_id WHERE r.ref = $1 ORDER BY a.id`, [claim])).rows.map((r) => r.file_name);
const drop = (name: string, raw: Buffer) => writeFile(path.join(maildir, 'new', name), raw);

beforeAll(async () => {
  if (!root) return;
  mnt = await tempDir('dossier-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
  maildir = await tempDir('dossier-maildir-');
  for (const sub of ['new', 'cur', 'tmp']) await mkdir(path.join(maildir, sub), { recursive: true });
  db = await createTestDatabase();
  env = testEnv(db.url, path.join(mnt, 'home'), { DOSSIER_MAIL__TOKEN_SECRET: 'faults-storage-secret-0123456789', DOSSIER_INTAKE__MAILDIR: maildir });
  app = await openApp({ env });
  const [c] = await importRecords(app, cliActor(env), 'claim', path.join(fixturesDir, 'records', 'claim.json'));
  claim = c!.ref;
  const ids = (await app.db.query<{ recordId: number; partyId: number }>(`SELECT r.id AS "recordId", p.id AS "partyId" FROM records r JOIN record_parties rp ON rp.record_id = r.id JOIN parties p ON p.id = rp.party_id WHERE r.ref = $1 AND p.key = 'lawyer-ershov'`, [claim])).rows[0]!;
  token = await issueReplyToken(app.db, await tokenSecret(app), { ...ids, ref: claim, partyKey: 'lawyer-ershov' });
  await mkdir(path.join(mnt, 'home', 'blobs', 'tmp'), { recursive: true });
});
afterAll(async () => {
  await app?.close();
  if (root) execFileSync('umount', ['-l', mnt]);
  await db?.drop();
});

describe.skipIf(!root)('storage that fails for now (a real 2 MB tmpfs)', () => {
  it('a full disk while journaling: the message stays in new/, one STORAGE_UNAVAILABLE line, exit not 3; applied once there is room', async () => {
    await drop('1.full-journal', reply('full-journal', 100));
    await fill(0);
    const r = await run();
    expect(r.code).not.toBe(3);
    expect(r.stdout + r.stderr).not.toContain('This is a bug');
    const lines = (r.stdout + r.stderr).split('\n').filter((l) => l.includes('STORAGE_UNAVAILABLE'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('ENOSPC');
    expect(await newFiles()).toEqual(['1.full-journal']);
    expect((await app.db.query(`SELECT count(*)::int AS n FROM inbound_messages`)).rows[0].n).toBe(0);

    await unfill();
    const again = await run();
    expect(again.code, again.stderr).toBe(0);
    expect(await newFiles()).toEqual([]);
    expect(await documents()).toEqual(['full-journal.pdf']);
  });

  it('a full disk while storing an attachment: journaled, nothing applied, never "failed"; applied on the next pass', async () => {
    const raw = reply('full-attachment', 300); // ~410 KB as mail, the PDF 300 KB decoded
    await drop('2.full-attachment', raw);
    await fill(raw.length + 120 * 1024); // room for the message's bytes, not for the PDF after them
    const r = await run();
    expect(r.code).not.toBe(3);
    expect((r.stdout + r.stderr).split('\n').filter((l) => l.includes('STORAGE_UNAVAILABLE'))).toHaveLength(1);
    const [row] = (await app.db.query(`SELECT outcome FROM inbound_messages WHERE message_id = '<full-attachment@ershov-law.example>'`)).rows;
    expect(row).toEqual({ outcome: null }); // journaled, not processed: no verdict on the message
    expect(await newFiles()).toEqual(['2.full-attachment']);
    expect(await documents()).toEqual(['full-journal.pdf']);

    await unfill();
    const again = await run();
    expect(again.code, again.stderr).toBe(0);
    expect((await app.db.query(`SELECT outcome FROM inbound_messages WHERE message_id = '<full-attachment@ershov-law.example>'`)).rows[0].outcome).toBe('applied');
    expect(await documents()).toEqual(['full-journal.pdf', 'full-attachment.pdf']);
    expect(await newFiles()).toEqual([]);
  });

  it('a read-only file system: EROFS, left for the next pass; applied once writable again', async () => {
    await drop('3.read-only', reply('read-only', 20));
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    let r;
    try {
      r = await run();
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', mnt]);
    }
    expect(r.code).not.toBe(3);
    const lines = (r.stdout + r.stderr).split('\n').filter((l) => l.includes('STORAGE_UNAVAILABLE'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('EROFS');
    expect(await newFiles()).toEqual(['3.read-only']);
    const again = await run();
    expect(again.code, again.stderr).toBe(0);
    expect(await documents()).toContain('read-only.pdf');
  });

  it('any command meeting a full disk says STORAGE_UNAVAILABLE (exit 2), never "This is a bug" (exit 3)', async () => {
    const file = path.join(maildir, 'akt-osmotra.pdf'); // not on the tmpfs: only the blob store is
    await writeFile(file, Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 31) % 251))]));
    await fill(0);
    try {
      const r = await dossier(['attach', claim, file, '--category', 'other'], env);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('STORAGE_UNAVAILABLE');
      expect(r.stderr).toContain('ENOSPC');
      expect(r.stderr).not.toContain('This is a bug');
    } finally {
      await unfill();
    }
  });
});
