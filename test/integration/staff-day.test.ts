import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import PizZip from 'pizzip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv, type CliResult } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';

// An ordinary day for staff (issue 16), through the real CLI and database: mistakes undone and
// audited, `--all` that goes on past one recipient's problem, a package sent once, finding records,
// the person in the audit trail, and output that fits an 80-column terminal.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let home: string;
let deal: string;
const scan = (f: string) => path.join(fixturesDir, 'scans', f);
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

const run = async (...args: string[]): Promise<CliResult> => {
  const r = await dossier(args, env);
  if (r.code !== 0) throw new Error(`dossier ${args.join(' ')} → ${r.code}\n${r.stderr}`);
  return r;
};
const counts = async () =>
  (await sql<{ events: number; packages: number; outbox: number; blobs: number; settings: number }>(
    `SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM packages)::int AS packages, (SELECT count(*) FROM outbox)::int AS outbox,
            (SELECT count(*) FROM blobs)::int AS blobs, (SELECT count(*) FROM settings)::int AS settings`,
  ))[0]!;
const outboxOf = async (ref: string, party: string) =>
  sql<{ id: number; status: string; package_id: number }>(
    `SELECT o.id, o.status, o.package_id::int FROM outbox o JOIN records r ON r.id = o.record_id JOIN parties p ON p.id = o.party_id WHERE r.ref = $1 AND p.key = $2 ORDER BY o.id`,
    [ref, party],
  );
/** A table's wrapped last column joined back into one line per row. */
const flat = (text: string) => text.replace(/\n {20,}/g, ' ');
const widest = (text: string) => Math.max(...text.split('\n').map((l) => [...l].length));

beforeAll(async () => {
  db = await createTestDatabase();
  home = await tempDir();
  env = testEnv(db.url, home);
  deal = (await run('record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json')).json()[0].ref;
});
afterAll(() => db.drop());

describe('corrections, each audited', () => {
  it('detaches an attachment: it leaves the record and its packages, its blob and history stay', async () => {
    const a = (await run('attach', deal, scan('passport-smirnov.pdf'), scan('passport-smirnov-p2.jpg'), '--category', 'passport_scans', '--json')).json();
    const jpg = a.attached.find((x: { file_name: string }) => x.file_name === 'passport-smirnov-p2.jpg');
    const out = (await run('attach', 'detach', deal, String(jpg.id), '--reason', 'не тот клиент')).stdout;
    expect(out).toContain(`Detached #${jpg.id} passport-smirnov-p2.jpg (passport_scans) from ${deal}.`);
    const show = (await run('record', 'show', deal, '--json')).json();
    expect(show.attachments.map((x: { file_name: string }) => x.file_name)).toEqual(['passport-smirnov.pdf']);
    const [row] = await sql<{ detached_by: string; sha256: string }>('SELECT detached_by, sha256 FROM attachments WHERE id = $1', [jpg.id]);
    expect(row!.detached_by).toBe('cli:tester');
    expect((await sql('SELECT 1 FROM blobs WHERE sha256 = $1', [row!.sha256])).length).toBe(1);
    expect(existsSync(path.join(home, 'blobs', row!.sha256.slice(0, 2), row!.sha256.slice(2, 4), row!.sha256)) || (await readdir(path.join(home, 'blobs'), { recursive: true })).some((f) => f.endsWith(row!.sha256))).toBe(true);
    const history = flat((await run('record', 'history', deal)).stdout);
    expect(history).toMatch(/cli:tester\s+attachment #\d+ passport-smirnov-p2\.jpg \(passport_scans\) detached \(reason: не тот клиент\)/);
    // `dossier detach` is the same command; a second detach says it was done, by whom.
    const again = await dossier(['detach', deal, String(jpg.id)], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`error ATTACHMENT_NOT_FOUND: Attachment #${jpg.id} (passport-smirnov-p2.jpg) was already detached from ${deal} by cli:tester.`);
    const built = (await run('pack', 'build', deal, '--recipient', 'bank-sever', '--json')).json();
    const zip = new PizZip(await readFile(built[0].parts[0].file));
    expect(Object.keys(zip.files)).toContain('Паспорт/passport-smirnov.pdf');
    expect(Object.keys(zip.files)).not.toContain('Паспорт/passport-smirnov-p2.jpg');
  });

  it('unlinks a party from a record, once', async () => {
    await run('party', 'add', 'bank-oops', '--kind', 'bank', '--name', 'Не тот банк', '--email', 'x@oops.example');
    await run('record', 'link', deal, 'bank-oops', '--role', 'recipient');
    expect((await run('record', 'unlink', deal, 'bank-oops', '--reason', 'ошибся')).stdout).toBe(`${deal}: bank-oops unlinked (was recipient). Its earlier mail and events stay in the history.`);
    expect((await run('record', 'show', deal, '--json')).json().parties.map((p: { key: string }) => p.key)).not.toContain('bank-oops');
    expect(flat((await run('record', 'history', deal)).stdout)).toMatch(/party bank-oops unlinked \(was recipient\) \(reason: ошибся\)/);
    const again = await dossier(['record', 'unlink', deal, 'bank-oops'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`error PARTY_NOT_LINKED: bank-oops is not linked to ${deal}.`);
  });

  it('edits a party: only what is given changes, every change is an event, bad input changes nothing', async () => {
    const r = await run('party', 'edit', 'bank-oops', '--name', 'АО «Верный банк»', '--add-email', 'Credit@Verny.example', '--phone', '+7 495 111-22-33');
    expect(r.stdout).toBe('bank-oops: changed name, emails, phone.');
    const p = (await run('party', 'list', '--json')).json().find((x: { key: string }) => x.key === 'bank-oops');
    expect(p).toMatchObject({ name: 'АО «Верный банк»', emails: ['x@oops.example', 'credit@verny.example'], phone: '+7 495 111-22-33', kind: 'bank' });
    const events = await sql<{ field: string; old_value: unknown; new_value: unknown; actor: string }>(
      `SELECT field, old_value, new_value, actor FROM events WHERE kind = 'party_changed' AND party_id = (SELECT id FROM parties WHERE key = 'bank-oops') ORDER BY id`,
    );
    expect(events).toEqual([
      { field: 'name', old_value: 'Не тот банк', new_value: 'АО «Верный банк»', actor: 'cli:tester' },
      { field: 'emails', old_value: ['x@oops.example'], new_value: ['x@oops.example', 'credit@verny.example'], actor: 'cli:tester' },
      { field: 'phone', old_value: null, new_value: '+7 495 111-22-33', actor: 'cli:tester' },
    ]);
    const bad = await dossier(['party', 'edit', 'bank-oops', '--remove-email', 'x@oops.example', '--add-email', 'not-an-address'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"not-an-address" is not an email address. Nothing was changed.');
    expect((await sql('SELECT emails FROM parties WHERE key = $1', ['bank-oops']))[0]).toEqual({ emails: ['x@oops.example', 'credit@verny.example'] });
  });

  it('cancels a queued email, but not one that went out', async () => {
    const first = await run('pack', 'send', deal, '--recipient', 'bank-meridian');
    // The status follows the sending (recordTypes.deal.statusOnSend: submitted).
    expect(first.stdout).toContain(`${deal}: status new → submitted.`);
    const queued = { outbox: Number(/^(\d+)\s+bank-meridian/m.exec(first.stdout)![1]) };
    expect((await run('outbox', 'cancel', String(queued.outbox), '--reason', 'не тому')).stdout).toBe(`Outbox #${queued.outbox} to partners@meridian-bank.example is cancelled; it will not be sent.`);
    await run('worker', '--until-idle');
    const [row] = await sql<{ status: string; attempts: number }>('SELECT status, attempts FROM outbox WHERE id = $1', [queued.outbox]);
    expect(row).toEqual({ status: 'cancelled', attempts: 0 });
    expect(flat((await run('record', 'history', deal)).stdout)).toContain(`email #${queued.outbox} cancelled before it was sent (reason: не тому)`);
    const sent = (await sql<{ id: number }>(`SELECT id FROM outbox WHERE status = 'sent' ORDER BY id LIMIT 1`))[0];
    if (sent) {
      const r = await dossier(['outbox', 'cancel', String(sent.id)], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`error OUTBOX_STATE: Message #${sent.id} is sent \\(sent .+\\); only a queued message can be cancelled\\.`));
    }
  });

  it('catches a scan too big for a package email when it is attached; --force keeps it and packages leave it out', async () => {
    const big = path.join(await tempDir(), 'passport-scan-600dpi.pdf');
    await writeFile(big, Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(8 * 1024 * 1024)]));
    const before = await counts();
    const r = await dossier(['attach', deal, big, '--category', 'passport_scans'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error ATTACHMENT_TOO_LARGE: Nothing was attached to ${deal}:`);
    // bank-volga takes emails up to 10 MiB; the other banks up to 15 and 20 MiB carry it.
    expect(r.stderr).toContain(`${big} (8.0 MiB) is larger than one package email can carry to bank-volga: emails up to 10.0 MiB (max_email_bytes), which leaves 7.3 MiB for a file once encoded`);
    expect(r.stderr).toContain('attach it with --force to keep it on the record anyway');
    expect(await counts()).toEqual(before);

    const forced = await run('attach', deal, big, '--category', 'passport_scans', '--force');
    expect(forced.stdout).toContain('warning: ');
    expect(forced.stdout).toContain('kept (--force): packages to bank-volga will leave it out.');
    const built = await run('pack', 'build', deal, '--recipient', 'bank-volga');
    expect(built.stdout).toContain('warning: bank-volga: left out (too big for one email to it): passport-scan-600dpi.pdf');
    const sever = (await run('pack', 'build', deal, '--recipient', 'bank-sever', '--json')).json();
    expect(Object.keys(new PizZip(await readFile(sever[0].parts[0].file)).files)).toContain('Паспорт/passport-scan-600dpi.pdf');
    // Off the record again, so that the packages below stay small.
    const id = (await sql<{ id: string }>(`SELECT id FROM attachments WHERE file_name = 'passport-scan-600dpi.pdf'`))[0]!.id;
    await run('detach', deal, String(id));
  });
});

describe('pack build/send --all go on past one recipient', () => {
  it('builds and sends every bank it can, names the one that failed, exits non-zero', async () => {
    await run('party', 'add', 'bank-noprofile', '--kind', 'workshop', '--name', 'СТО без профиля', '--email', 'sto@noprofile.example');
    await run('record', 'link', deal, 'bank-noprofile', '--role', 'recipient');
    const b = await dossier(['pack', 'build', deal, '--all', '--json'], env);
    expect(b.code).toBe(1);
    expect(b.json().map((x: { recipient: string }) => x.recipient).sort()).toEqual(['bank-meridian', 'bank-sever', 'bank-volga']);
    expect(b.stderr).toContain(`"code": "PACKAGES_INCOMPLETE"`);
    expect(b.stderr).toContain('bank-noprofile: PROFILE_NOT_FOUND There is no deal package profile for bank-noprofile (workshop).');

    const s = await dossier(['pack', 'send', deal, '--all'], env);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain(`error PACKAGES_INCOMPLETE: ${deal}: 1 of 4 recipient(s) failed (the other 3 went ahead):`);
    // bank-meridian's first email was cancelled above: that one does not count as sent.
    expect((await outboxOf(deal, 'bank-meridian')).map((o) => o.status)).toEqual(['cancelled', 'queued']);
    for (const bank of ['bank-sever', 'bank-volga']) expect((await outboxOf(deal, bank)).map((o) => o.status)).toEqual(['queued']);
    expect((await sql('SELECT status FROM records WHERE ref = $1', [deal]))[0]).toEqual({ status: 'submitted' });
    expect(flat((await run('record', 'history', deal)).stdout)).toContain('status new → submitted (reason: packages sent to bank-meridian)');

    // Given a profile, the one that failed goes; the three that went are not sent twice.
    await run('party', 'edit', 'bank-noprofile', '--profile', 'bank-meridian');
    const fixed = await run('pack', 'send', deal, '--all');
    expect(fixed.stdout).toContain('bank-noprofile');
    expect(fixed.stdout).toMatch(/bank-sever: skipped, its package (is queued since|was sent) \d{4}-\d\d-\d\d \d\d:\d\d \(outbox #\d+\); --again sends it again\./);
    expect((await outboxOf(deal, 'bank-noprofile')).length).toBe(1);
    for (const bank of ['bank-sever', 'bank-volga']) expect((await outboxOf(deal, bank)).length).toBe(1);
    expect((await outboxOf(deal, 'bank-meridian')).length).toBe(2);
    await run('record', 'unlink', deal, 'bank-noprofile');
  });
});

describe('a package is sent once, and the one that was built', () => {
  it('refuses a repeat without --again, saying when it was sent', async () => {
    await run('worker', '--until-idle');
    const before = await counts();
    const r = await dossier(['pack', 'send', deal, '--all'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error PACKAGE_ALREADY_SENT: Nothing was sent: bank-meridian's package was sent \d{4}-\d\d-\d\d \d\d:\d\d \(outbox #\d+\);/);
    expect(r.stderr).toContain('add --again');
    expect(await counts()).toEqual(before);
  });

  it('a dry run writes no event, no row, no blob', async () => {
    await run('field', 'set', deal, 'loan_amount=1 700 000,00'); // so that the dry run must build afresh
    const before = await counts();
    const r = await run('pack', 'send', deal, '--all', '--again', '--dry-run');
    expect(r.stdout).toContain('Dry run: nothing was queued or recorded.');
    expect(r.stdout).toMatch(/bank-volga: built again, because since the last build value loan_amount changed\./);
    expect(await counts()).toEqual(before);
  });

  it('sends the package that was built and reviewed, and rebuilds only when something changed since', async () => {
    const [built] = (await run('pack', 'build', deal, '--recipient', 'bank-volga', '--json')).json();
    const reviewed = await run('pack', 'send', deal, '--recipient', 'bank-volga', '--again');
    expect(reviewed.stdout).toContain('bank-volga: the package built before (nothing changed since).');
    const rows = await outboxOf(deal, 'bank-volga');
    expect(rows.at(-1)!.package_id).toBe(built.parts[0].package);

    await run('field', 'set', deal, '--recipient', 'bank-volga', 'loan_term_months=36');
    await run('attach', deal, scan('income-2ndfl-smirnov.pdf'), '--category', 'income_documents');
    const changed = await run('pack', 'send', deal, '--recipient', 'bank-volga', '--again');
    expect(changed.stdout).toMatch(/bank-volga: built again, because since the last build value loan_term_months \[bank-volga\] changed; attached income-2ndfl-smirnov\.pdf \(income_documents\)\./);
    expect((await outboxOf(deal, 'bank-volga')).at(-1)!.package_id).toBeGreaterThan(built.parts[0].package);
  });
});

describe('finding things', () => {
  let second: string;
  beforeAll(async () => {
    second = (await run('record', 'create', 'deal', '--title', 'Ипотека — Белозёрова Е. П.')).stdout;
  });

  it('finds a record by client name, phone in any spacing, INN, a value, status, date; newest first', async () => {
    const find = async (...args: string[]) => (await run('record', 'find', ...args, '--json')).json() as { ref: string; matched: string[] }[];
    const smirnov = await find('Смирнов');
    expect(smirnov.map((r) => r.ref)).toEqual([deal]);
    expect(smirnov[0]!.matched).toEqual(expect.arrayContaining(['party client-smirnov (client)', 'field borrower_last_name']));
    expect((await find('89161234567')).map((r) => r.ref)).toEqual([deal]);
    expect((await find('+7 (916) 123 45 67')).map((r) => r.ref)).toEqual([deal]);
    expect((await find('7604 1234 5643'))[0]!.matched).toContain('field borrower_inn');
    expect((await find('Волга'))[0]!.matched).toContain('party bank-volga (recipient)');
    expect((await find('Белозёрова')).map((r) => r.ref)).toEqual([second]);
    expect((await find('Новая')).map((r) => r.ref)).toEqual([second]); // a status by its label
    const today = new Date();
    const ru = `${String(today.getDate()).padStart(2, '0')}.${String(today.getMonth() + 1).padStart(2, '0')}.${today.getFullYear()}`;
    expect((await find(ru)).map((r) => r.ref)).toEqual([second, deal]);
    expect((await find(ru, '--limit', '1')).map((r) => r.ref)).toEqual([second]);
    expect((await find(ru, '--before', second)).map((r) => r.ref)).toEqual([deal]);
    expect((await run('record', 'find', 'нет такого')).stdout).toBe('Nothing found.');
  });

  it('lists records and the outbox newest first, a page at a time', async () => {
    expect((await run('record', 'list', '--json')).json().map((r: { ref: string }) => r.ref)).toEqual([second, deal]);
    expect((await run('record', 'list', '--limit', '1', '--offset', '1', '--json')).json().map((r: { ref: string }) => r.ref)).toEqual([deal]);
    const all = (await run('outbox', 'list', '--json')).json().map((o: { id: number }) => Number(o.id));
    expect(all).toEqual([...all].sort((a, b) => b - a));
    const page1 = (await run('outbox', 'list', '--limit', '2', '--json')).json().map((o: { id: number }) => Number(o.id));
    const page2 = (await run('outbox', 'list', '--limit', '2', '--before', String(page1[1]), '--json')).json().map((o: { id: number }) => Number(o.id));
    expect([...page1, ...page2]).toEqual(all.slice(0, 4));
    expect((await run('outbox', 'list', '--limit', '2')).stdout).toContain(`Newest first. Older ones: --before ${page1[1]}.`);
    const bad = await dossier(['outbox', 'list', '--limit', 'lots'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--limit must be a whole number from 1 to 10000, not "lots"');
  });
});

describe('who did it, and what people read', () => {
  it('names the person behind sudo in the audit trail, not root', async () => {
    const sudoEnv = { ...env, DOSSIER_USER: undefined, SUDO_USER: 'm.ivanova' };
    const r = await dossier(['record', 'status', deal, 'collecting', '--reason', 'ждём справку'], sudoEnv);
    expect(r.code).toBe(0);
    expect((await sql(`SELECT actor FROM events WHERE kind = 'status_changed' ORDER BY id DESC LIMIT 1`))[0]).toEqual({ actor: 'cli:m.ivanova' });
  });

  it('greets an outside lawyer known only by address neutrally', async () => {
    const claim = (await run('record', 'import', 'claim', path.join(fixturesDir, 'records', 'claim.json'), '--json')).json()[0].ref;
    const [m] = (await run('share', claim, '--email', 'm.orlova@advokat-orlova.example', '--json')).json().mails;
    await run('worker', '--until-idle');
    expect((await sql('SELECT status FROM outbox WHERE id = $1', [m.outbox]))[0]).toEqual({ status: 'sent' });
    const emls = (await readdir(path.join(home, 'outbox'), { recursive: true })).filter((f) => f.endsWith('.eml'));
    const texts = await Promise.all(emls.map(async (f) => (await simpleParser(await readFile(path.join(home, 'outbox', f)))).text ?? ''));
    const mine = texts.find((t) => t.includes(claim));
    if (!mine) throw new Error(`no mail for ${claim} among ${emls.join(', ')}:\n${texts.join('\n----\n')}`);
    expect(mine.startsWith('Добрый день!')).toBe(true);
    expect(mine).not.toContain('Уважаемый(ая) m.orlova');
  });

  it('prints tables that fit an 80-column terminal', async () => {
    for (const args of [['record', 'history', deal], ['record', 'show', deal], ['party', 'list'], ['outbox', 'list'], ['record', 'list'], ['record', 'find', 'Смирнов']]) {
      const out = (await run(...args)).stdout;
      expect({ args, width: widest(out) }).toEqual({ args, width: expect.toSatisfy((w: number) => w <= 80) });
    }
  });
});
