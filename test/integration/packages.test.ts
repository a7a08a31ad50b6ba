import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import PizZip from 'pizzip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReplyAddress, parseSubjectTags, verifyToken } from '../../src/outbound/tokens.js';
import { fixturesDir, templatesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { smtpEnv, startSmtp, type TestSmtp } from '../helpers/smtp.js';

// Packages built for the sample deal's banks and the claim's parties, sent through a real SMTP
// server, unpacked and checked against their manifests.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let smtp: TestSmtp;
let deal: string;
let claim: string;
let templates: string;
const scan = (f: string) => path.join(fixturesDir, 'scans', f);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const sql = <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

const run = async (...args: string[]) => {
  const r = await dossier(args, env);
  if (r.code !== 0) throw new Error(`dossier ${args.join(' ')} → ${r.code}\n${r.stderr}`);
  return r;
};

/** Runs the worker until the message is no longer queued, waiting out retry delays (bounded). */
async function workUntil(outboxId: number, done: (status: string) => boolean): Promise<string> {
  for (let i = 0; i < 20; i++) {
    await run('worker', '--until-idle');
    const [row] = await sql<{ status: string }>('SELECT status FROM outbox WHERE id = $1', [outboxId]);
    if (done(row!.status)) return row!.status;
    await sleep(600);
  }
  throw new Error(`outbox #${outboxId} did not settle`);
}

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtp();
  templates = path.join(await tempDir(), 'templates');
  await cp(templatesDir, templates, { recursive: true });
  env = testEnv(db.url, await tempDir(), {
    DOSSIER_TEMPLATES__DIR: templates,
    ...smtpEnv(smtp.port),
    DOSSIER_MAIL__SMTP__TIMEOUT_SECONDS: '5',
    DOSSIER_MAIL__RETRY__DELAY_SECONDS: '1',
    DOSSIER_MAIL__RETRY__BACKOFF: 'false',
    DOSSIER_MAIL__RETRY__LIMIT: '3',
  });
  deal = (await run('record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json')).json()[0].ref;
  claim = (await run('record', 'import', 'claim', path.join(fixturesDir, 'records', 'claim.json'), '--json')).json()[0].ref;
  await run('attach', deal, scan('passport-smirnov.pdf'), scan('passport-smirnov-p2.jpg'), '--category', 'passport_scans');
  await run('attach', deal, scan('income-2ndfl-smirnov.pdf'), '--category', 'income_documents');
  await run('attach', claim, scan('police-report-cl.pdf'), '--category', 'police_report');
  await run('attach', claim, scan('scene-photo-1.jpg'), '--category', 'scene_photos');
});
afterAll(async () => {
  await smtp.stop();
  await db.drop();
});

describe('pack build', () => {
  it('builds one zip per bank whose manifest matches its files', async () => {
    const r = await run('pack', 'build', deal, '--all', '--json');
    const built = r.json() as { recipient: string; parts: { file: string; sha256: string; size: number }[] }[];
    expect(built.map((b) => b.recipient).sort()).toEqual(['bank-meridian', 'bank-sever', 'bank-volga']);
    const sever = built.find((b) => b.recipient === 'bank-sever')!.parts[0]!;
    const bytes = await readFile(sever.file);
    expect(sha(bytes)).toBe(sever.sha256);
    const zip = new PizZip(bytes);
    const names = Object.keys(zip.files).filter((n) => !zip.files[n]!.dir);
    expect(names).toEqual(expect.arrayContaining(['manifest.json', 'ОПИСЬ.txt', 'Паспорт/passport-smirnov.pdf', 'Паспорт/passport-smirnov-p2.jpg', 'Доходы/income-2ndfl-smirnov.pdf']));
    expect(names.some((n) => /^Анкета-заявление Смирнов DL-\d{4}-\d{5}\.docx$/.test(n))).toBe(true);
    const manifest = JSON.parse(zip.file('manifest.json')!.asText());
    expect(manifest).toMatchObject({ record: deal, recipient: { key: 'bank-sever', name: 'АО «Банк Северный»' }, schemaVersion: 2, parts: 1 });
    for (const f of manifest.files as { name: string; sha256: string; size: number }[]) {
      const content = zip.file(f.name)!.asNodeBuffer();
      expect({ name: f.name, sha256: sha(content), size: content.length }).toEqual({ name: f.name, sha256: f.sha256, size: f.size });
    }
    expect(names.filter((n) => !['manifest.json', 'ОПИСЬ.txt'].includes(n)).sort()).toEqual(manifest.files.map((f: { name: string }) => f.name).sort());
    const index = zip.file('ОПИСЬ.txt')!.asText();
    expect(index).toContain(`Дело: ${deal}`);
    expect(index).toContain('шаблон bank-sever/questionnaire.docx, схема v2');
    // Windows line endings throughout, the time as people read it, categories by their names.
    expect(index.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(index).toMatch(/Сформирован: \d{1,2} [а-я]+ \d{4} г\. в \d{2}:\d{2}/);
    expect(index).toContain('(«Скан паспорта»)');
    expect(index).not.toContain('(passport_scans)');
    // The zip in the packages folder is the stored blob itself, not a second copy.
    expect((await stat(sever.file)).nlink).toBeGreaterThan(1);
    const history = (await run('record', 'history', deal)).stdout.replace(/\n {20,}/g, ' '); // the wrapped column joined
    expect(history).toMatch(/package for bank-sever built: .+\.zip \(\d+ files, [\d.]+ KiB\)/);
  });

  it('builds every recipient it can and names the one with no profile', async () => {
    await run('party', 'add', 'workshop-x', '--kind', 'workshop', '--name', 'СТО «Икс»', '--email', 'x@sto.example');
    await run('record', 'link', claim, 'workshop-x', '--role', 'recipient');
    const before = (await sql<{ n: number }>('SELECT count(*)::int AS n FROM packages'))[0]!.n;
    const r = await dossier(['pack', 'build', claim, '--all'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error PACKAGES_INCOMPLETE: ${claim}: 1 of 5 package(s) could not be built (the other 4 were):`);
    expect(r.stderr).toContain('workshop-x: PROFILE_NOT_FOUND There is no claim package profile for workshop-x (workshop).');
    expect(r.stdout).toMatch(/insurer-magistral/);
    expect((await sql<{ n: number }>('SELECT count(*)::int AS n FROM packages'))[0]!.n).toBe(before + 4);
    await sql(`DELETE FROM record_parties WHERE party_id = (SELECT id FROM parties WHERE key = 'workshop-x')`);
  });
});

describe('pack send and delivery', () => {
  it('sends each bank its package with a reply token only it can use', async () => {
    smtp.received.length = 0;
    const s = (await run('pack', 'send', deal, '--all', '--json')).json() as { recipient: string; outbox: number; subject: string }[];
    expect(s).toHaveLength(3);
    expect((await run('outbox', 'list', '--status', 'queued', '--json')).json()).toHaveLength(3);
    const w = await run('worker', '--until-idle');
    expect(w.stdout).toContain('Sent 3, failed 0');
    expect(smtp.received).toHaveLength(3);

    const [secret] = await sql<{ value: string }>(`SELECT value FROM settings WHERE key = 'reply_token_secret'`);
    for (const { mail, raw } of smtp.received) {
      const tags = parseSubjectTags(mail.subject!);
      expect(tags).toHaveLength(1);
      const recipient = s.find((x) => mail.subject === x.subject)!.recipient;
      expect(verifyToken(secret!.value, deal, recipient, tags[0]!.token!)).toBe(true);
      for (const other of ['bank-sever', 'bank-volga', 'bank-meridian'].filter((k) => k !== recipient)) expect(verifyToken(secret!.value, deal, other, tags[0]!.token!)).toBe(false);
      expect(verifyToken(secret!.value, claim, recipient, tags[0]!.token!)).toBe(false);
      expect(parseReplyAddress(mail.replyTo!.value[0]!.address!)).toEqual({ ref: deal, token: tags[0]!.token });
      expect(mail.headers.get('x-dossier-loop')).toBeTruthy();
      expect(raw.toString('latin1')).toMatch(/^Message-ID: <dossier\./im);
      const zip = mail.attachments.find((a) => a.filename?.endsWith('.zip'))!;
      const [pkg] = await sql<{ sha256: string }>('SELECT p.sha256 FROM outbox o JOIN packages p ON p.id = o.package_id WHERE o.message_id = $1', [mail.messageId]);
      expect(sha(zip.content)).toBe(pkg!.sha256);
      expect(new PizZip(zip.content).file('manifest.json')).toBeTruthy();
    }
    const sent = (await run('outbox', 'list', '--status', 'sent', '--json')).json() as { attempts: number; last_response: string }[];
    expect(sent).toHaveLength(3);
    expect(sent.every((r) => r.attempts === 1 && /^250/.test(r.last_response))).toBe(true);
    expect((await run('record', 'history', deal)).stdout).toMatch(/email #\d+ sent to /);
  });

  it('refers to the stored zip from the outbox and streams it into the email: the bank gets those bytes, the outbox keeps no copy', async () => {
    smtp.received.length = 0;
    const [mail] = (await run('pack', 'send', deal, '--recipient', 'bank-sever', '--again', '--json')).json() as { outbox: number }[];
    const [queued] = await sql<{ raw_sha256: string | null; message: string; size: number; package_sha: string; package_size: number }>(
      'SELECT o.raw_sha256, o.message::text AS message, o.size::int AS size, p.sha256 AS package_sha, p.size::int AS package_size FROM outbox o JOIN packages p ON p.id = o.package_id WHERE o.id = $1',
      [mail!.outbox],
    );
    // No message bytes stored for it, only a reference to the package's zip; its text is kilobytes.
    expect(queued!.raw_sha256).toBeNull();
    expect(queued!.message.length).toBeLessThan(20_000);
    const refs = await sql<{ sha256: string; file_name: string }>('SELECT sha256, file_name FROM outbox_attachments WHERE outbox_id = $1', [mail!.outbox]);
    expect(refs.map((r) => r.sha256)).toEqual([queued!.package_sha]);
    expect(queued!.size).toBeGreaterThan((queued!.package_size * 4) / 3);

    await run('worker', '--until-idle');
    expect(smtp.received).toHaveLength(1);
    const { mail: got, raw } = smtp.received[0]!;
    const zip = got.attachments.find((a) => a.filename?.endsWith('.zip'))!;
    expect(zip.filename).toBe(refs[0]!.file_name);
    expect(sha(zip.content)).toBe(queued!.package_sha);
    // The outbox records what went out, byte for byte.
    const [sent] = await sql<{ status: string; sent_sha256: string; size: number }>('SELECT status, sent_sha256, size::int AS size FROM outbox WHERE id = $1', [mail!.outbox]);
    expect(sent).toEqual({ status: 'sent', sent_sha256: sha(raw), size: raw.length });
    // Nor is there a stored message of it anywhere in the blob store's catalogue.
    const messages = await sql<{ n: number }>("SELECT count(*)::int AS n FROM blobs WHERE content_type = 'message/rfc822' AND sha256 = $1", [sha(raw)]);
    expect(messages[0]!.n).toBe(0);
  });

  it('retries a temporary refusal (451 twice) and sends the message once', async () => {
    smtp.received.length = 0;
    let refusals = 0;
    smtp.rcptRule = (to) => (to === 'autoloans@volga-credit.example.ru' && refusals++ < 2 ? { code: 451, message: '4.7.1 Greylisted, try again later' } : undefined);
    const [mail] = (await run('pack', 'send', deal, '--recipient', 'bank-volga', '--again', '--json')).json() as { outbox: number }[];
    const status = await workUntil(mail!.outbox, (s) => s === 'sent');
    smtp.rcptRule = null;
    expect(status).toBe('sent');
    expect(smtp.received).toHaveLength(1);
    const [row] = await sql<{ attempts: number; message_id: string }>('SELECT attempts, message_id FROM outbox WHERE id = $1', [mail!.outbox]);
    expect(row!.attempts).toBe(3);
    expect(smtp.received[0]!.mail.messageId).toBe(row!.message_id);
  });

  it('fails a permanent refusal (550) with the server\'s reason, and can retry it', async () => {
    smtp.rcptRule = (to) => (to === 'partners@meridian-bank.example' ? { code: 550, message: '5.1.1 <partners@meridian-bank.example>: mailbox unavailable' } : undefined);
    const [mail] = (await run('pack', 'send', deal, '--recipient', 'bank-meridian', '--again', '--json')).json() as { outbox: number }[];
    expect(await workUntil(mail!.outbox, (s) => s !== 'queued' && s !== 'sending')).toBe('failed');
    const failed = (await run('outbox', 'list', '--status', 'failed')).stdout;
    expect(failed).toMatch(new RegExp(`^${mail!.outbox}\\s.*failed\\s+1\\s`, 'm'));
    expect(failed).toContain(`#${mail!.outbox}: 550 5.1.1 <partners@meridian-bank.example>: mailbox unavailable`);
    expect((await run('record', 'history', deal)).stdout.replace(/\n {20,}/g, ' ')).toMatch(/email #\d+ to .+ failed: 550/);

    smtp.rcptRule = null;
    expect((await run('outbox', 'retry', String(mail!.outbox))).stdout).toBe(`Outbox #${mail!.outbox} is queued again; the worker will send it.`);
    expect(await workUntil(mail!.outbox, (s) => s === 'sent')).toBe('sent');
    const again = await dossier(['outbox', 'retry', String(mail!.outbox)], env);
    expect(again.stderr).toContain('error OUTBOX_STATE');
  });

  it('keeps a message queued while the server is down and sends it when it is back', async () => {
    await smtp.stop();
    const [mail] = (await run('pack', 'send', deal, '--recipient', 'bank-sever', '--again', '--json')).json() as { outbox: number }[];
    await run('worker', '--until-idle');
    const [row] = await sql<{ status: string; attempts: number; last_response: string }>('SELECT status, attempts, last_response FROM outbox WHERE id = $1', [mail!.outbox]);
    expect(row).toMatchObject({ status: 'queued', attempts: 1 });
    expect(row!.last_response).toMatch(/ECONNREFUSED|connect|ESOCKET/i);
    await smtp.start();
    smtp.received.length = 0;
    expect(await workUntil(mail!.outbox, (s) => s === 'sent')).toBe('sent');
    expect(smtp.received).toHaveLength(1);
  });

  it('splits a package too big for one email into parts, each saying "часть k из N"', async () => {
    const profile = path.join(templates, 'bank-volga', 'package.yaml');
    await writeFile(profile, (await readFile(profile, 'utf8')).replace(/max_email_bytes: \d+/, 'max_email_bytes: 450000'));
    const work = await tempDir();
    const scans = [1, 2, 3].map((i) => path.join(work, `справка ${i}.bin`));
    for (const f of scans) await writeFile(f, randomBytes(180_000));
    await run('attach', deal, ...scans, '--category', 'employment_documents');
    smtp.received.length = 0;
    const mails = (await run('pack', 'send', deal, '--recipient', 'bank-volga', '--again', '--json')).json() as { part: number; parts: number; subject: string; outbox: number }[];
    expect(mails.length).toBeGreaterThanOrEqual(2);
    const n = mails.length;
    mails.forEach((m, i) => {
      expect(m).toMatchObject({ part: i + 1, parts: n });
      expect(m.subject).toMatch(new RegExp(`\\(часть ${i + 1} из ${n}\\)$`));
    });
    await run('worker', '--until-idle');
    expect(smtp.received).toHaveLength(n);
    const allFiles = new Set<string>();
    for (const r of smtp.received) {
      expect(r.raw.length).toBeLessThanOrEqual(450000);
      expect(r.mail.text).toMatch(/часть \d из \d/);
      const zip = new PizZip(r.mail.attachments[0]!.content);
      const manifest = JSON.parse(zip.file('manifest.json')!.asText()) as { parts: number; files: { name: string; part: number }[] };
      expect(manifest.parts).toBe(n);
      for (const name of Object.keys(zip.files)) if (!zip.files[name]!.dir && !['manifest.json', 'ОПИСЬ.txt'].includes(name)) allFiles.add(name);
    }
    expect([...allFiles].filter((f) => f.includes('справка'))).toHaveLength(3);

    // A recipient that reads English names the parts in English: the words come from its profile.
    await writeFile(profile, (await readFile(profile, 'utf8')).replace(/^( {2}text: .*)$/m, `$1\n  part_note: "part {{$part}} of {{$parts}}"`));
    // A dry run: the subjects it would send, nothing queued for the tests after this one.
    const english = (await run('pack', 'send', deal, '--recipient', 'bank-volga', '--again', '--dry-run', '--json')).json() as { subject: string }[];
    expect(english).toHaveLength(n);
    english.forEach((m, i) => expect(m.subject).toMatch(new RegExp(`\\(part ${i + 1} of ${n}\\)$`)));
  });
});

describe('share', () => {
  it('creates an outside party for a new address and sends the whole claim with its own token', async () => {
    smtp.received.length = 0;
    const r = (await run('share', claim, '--email', 'M.Orlova@Advokat-Orlova.example', '--name', 'Адвокат Орлова М. С.', '--json')).json();
    expect(r).toMatchObject({ party: 'lawyer-m-orlova', created: true });
    await run('worker', '--until-idle');
    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!.mail;
    expect(mail.to).toMatchObject({ value: [{ address: 'm.orlova@advokat-orlova.example' }] });
    expect(mail.text).toContain('Чтобы добавить документы к делу, просто ответьте на это письмо');
    const zip = new PizZip(mail.attachments[0]!.content);
    expect(Object.keys(zip.files).some((n) => n.startsWith('Сопроводительное письмо'))).toBe(true);
    // Shared once: a second share finds the party and does not send the package twice.
    const again = await dossier(['share', claim, '--email', 'm.orlova@advokat-orlova.example'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`error PACKAGE_ALREADY_SENT: ${claim}'s package for lawyer-m-orlova (m.orlova@advokat-orlova.example) was sent before; nothing was sent now.`);
    expect(again.stderr).toContain(`dossier pack send ${claim} --recipient lawyer-m-orlova --again`);
    expect(await sql('SELECT key FROM parties WHERE $1 = ANY(emails)', ['m.orlova@advokat-orlova.example'])).toEqual([{ key: 'lawyer-m-orlova' }]);
  });
});
