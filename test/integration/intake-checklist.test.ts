import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samplePhoto } from '../../src/evidence/sample-images.js';
import { fixturesDir } from '../../src/paths.js';
import { tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cliWorld, b64 } from '../helpers/cli-world.js';
import { smtpEnv, startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { filePart } from '../helpers/mail.js';

// Issue 17 through the real intake (`mail ingest`), real PostgreSQL and a real SMTP server: the
// client answers a checklist request with a file; the file ticks the item it matches, a photo that
// is also on another record is flagged on both, and staff are told of both by email.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
const { sql, run, deliverAll } = cliWorld(() => ({ db, env }));
let smtp: TestSmtp;
let deal: string;

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtp();
  env = testEnv(db.url, await tempDir(), { ...smtpEnv(smtp.port), DOSSIER_MAIL__RETRY__DELAY_SECONDS: '1', DOSSIER_MAIL__RETRY__BACKOFF: 'false' });
  deal = (await run('record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json')).json()[0].ref;
});
afterAll(async () => {
  await smtp?.stop();
  await db?.drop();
});

describe('a reply that brings files', () => {
  it('ticks the checklist item, flags a photo reused from another record, and tells staff', async () => {
    // A photo already on another record.
    const photo = await samplePhoto(11);
    const photoFile = path.join(await tempDir(), 'car.jpg');
    await writeFile(photoFile, photo);
    const other = (await run('record', 'create', 'claim', '--title', 'Другое дело')).stdout.trim();
    await run('attach', other, photoFile, '--category', 'vehicle_photos');

    await run('checklist', 'request', deal, '--to', 'client', '--recipient', 'bank-sever');
    await deliverAll();
    const request = smtp.received.find((m) => m.mail.subject?.includes('Недостающие документы'))!;
    const replyTo = request.mail.replyTo!.value[0]!.address!;
    const employment = await readFile(path.join(fixturesDir, 'scans', 'income-2ndfl-smirnov.pdf'));

    const file = path.join(await tempDir(), 'reply.eml');
    await writeFile(file, [
      'From: =?UTF-8?B?' + Buffer.from('Алексей Смирнов').toString('base64') + '?= <a.smirnov@example.ru>',
      `To: ${replyTo}`,
      `Subject: ${b64(`Re: ${request.mail.subject}`)}`,
      `Message-ID: <client-reply-${Date.now()}@example.ru>`,
      `In-Reply-To: ${request.mail.messageId}`,
      'Date: Mon, 07 Dec 2026 11:00:00 +0300',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Высылаю трудовую книжку и фото машины.',
      ...filePart('b', b64('Трудовая книжка.pdf'), employment),
      ...filePart('b', 'IMG_0001.jpg', photo, 'image/jpeg'),
      '--b--',
      '',
    ].join('\r\n'));
    const r = (await run('mail', 'ingest', file, '--json')).json()[0];
    expect(r.outcome).toBe('applied');
    expect(r.reason).toContain('ticked bank-sever:employment, bank-volga:employment');
    expect(r.reason).toContain('1 file(s) also on another record');

    const v = (await run('checklist', deal, '--recipient', 'bank-sever', '--json')).json();
    expect(v.recipients[0].documents.find((d: { key: string }) => d.key === 'employment')).toMatchObject({ state: 'present', have: 1 });
    const pairs = (await run('evidence', '--ref', deal, '--json')).json();
    expect(pairs.map((p: { method: string; a: { ref: string }; b: { ref: string } }) => [p.method, p.a.ref, p.b.ref])).toEqual([['sha256', other, deal]]);
    expect((await run('record', 'show', other)).stdout).toContain('REUSED EVIDENCE');

    // …and in the report.
    const report = (await run('report', '--json')).json();
    expect(report.evidence).toMatchObject([{ method: 'sha256', similarity: 1, a: { ref: other, file: 'car.jpg' }, b: { ref: deal, file: 'IMG_0001.jpg' } }]);
    expect((await run('report')).stdout).toMatch(new RegExp(`^Повторные файлы\\n[^\\n]+\\n[^\\n]+\\nsha256\\s+1\\s+${other}\\s+car\\.jpg\\s+${deal}\\s+IMG_0001\\.jpg$`, 'm'));

    await deliverAll();
    const told = smtp.received.find((m) => m.envelopeTo.includes('manager@dossier.example') && m.mail.subject?.includes('по чек-листу'))!;
    expect(told.mail.subject).toBe(`[${deal}] Повторно использованные файлы; пришли документы по чек-листу (2)`);
    expect(told.mail.text).toContain('bank-sever: Копия трудовой книжки или договора (employment_documents)');
    expect(told.mail.text).toContain(`car.jpg (${other}) — IMG_0001.jpg (${deal}): тот же файл`);
    const events = await sql<{ kind: string; actor: string }>("SELECT kind, actor FROM events WHERE kind IN ('checklist_ticked', 'evidence_reused') ORDER BY id");
    expect(events.map((e) => e.kind).sort()).toEqual(['checklist_ticked', 'checklist_ticked', 'evidence_reused', 'evidence_reused']);
    expect(events.every((e) => /^message:\d+$/.test(e.actor))).toBe(true);
  });
  it('attaches a file sent twice in one reply, and again in the next, once; the journal says it was there', async () => {
    await run('checklist', 'request', deal, '--to', 'client', '--recipient', 'bank-volga');
    await deliverAll();
    const request = smtp.received.filter((m) => m.mail.subject?.includes('Недостающие документы')).at(-1)!;
    const replyTo = request.mail.replyTo!.value[0]!.address!;
    const passport = await readFile(path.join(fixturesDir, 'scans', 'passport-smirnov.pdf'));
    const reply = async (id: string, names: string[]) => {
      const file = path.join(await tempDir(), `${id}.eml`);
      await writeFile(file, [
        'From: a.smirnov@example.ru',
        `To: ${replyTo}`,
        `Subject: ${b64(`Re: ${request.mail.subject}`)}`,
        `Message-ID: <${id}-${Date.now()}@example.ru>`,
        `In-Reply-To: ${request.mail.messageId}`,
        'Date: Mon, 07 Dec 2026 12:00:00 +0300',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        ...names.flatMap((n) => filePart('b', b64(n), passport)),
        '--b--',
        '',
      ].join('\r\n'));
      return (await run('mail', 'ingest', file, '--json')).json()[0];
    };
    const before = await sql<{ n: number }>("SELECT count(*)::int AS n FROM attachments WHERE sha256 = encode(sha256($1), 'hex')", [passport]);
    expect(before[0]!.n).toBe(0);

    const first = await reply('twice', ['Паспорт.pdf', 'Паспорт (копия).pdf']);
    expect(first).toMatchObject({ outcome: 'applied', reason: expect.stringContaining('2 document(s) (1 of them already there)') });
    const second = await reply('again', ['Паспорт.pdf']);
    expect(second).toMatchObject({ outcome: 'applied', reason: expect.stringContaining('1 document(s) (1 of them already there)') });

    const rows = await sql<{ file_name: string }>("SELECT file_name FROM attachments WHERE sha256 = encode(sha256($1), 'hex')", [passport]);
    expect(rows.map((r) => r.file_name)).toEqual(['Паспорт.pdf']);
    const added = await sql<{ file: string; message_id: string }>("SELECT new_value->>'file' AS file, new_value->>'messageId' AS message_id FROM events WHERE kind = 'attachment_added' AND new_value->>'sha256' = encode(sha256($1), 'hex')", [passport]);
    expect(added).toEqual([{ file: 'Паспорт.pdf', message_id: expect.stringMatching(/^<twice-\d+@example\.ru>$/) }]);
  });
});
