import { spawn, spawnSync } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor, openApp, type App } from '../../src/app.js';
import { fixturesDir, packageRoot } from '../../src/paths.js';
import { createLink } from '../../src/portal/links.js';
import { buildPortal } from '../../src/portal/server.js';
import { addUser, authenticate } from '../../src/portal/users.js';
import { importRecords } from '../../src/schemas/bulk.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';

// The portal (issue 18) in a real browser: Debian's Chromium (/usr/bin/chromium, installed by
// .ci/run) driven by playwright-core — no browser is downloaded. The server runs in this process on
// a free port against a real PostgreSQL; links are made with the CLI as staff would make them.

const CHROMIUM = '/usr/bin/chromium';
let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let app: App;
let server: FastifyInstance;
let base: string;
let browser: Browser;
let claim: string;
let work: string;
const logs: string[] = [];

const link = async (party: string, extra: string[] = []) => {
  const r = await dossier(['share', 'link', claim, '--party', party, '--json', ...extra], env);
  expect(r.code, r.stderr).toBe(0);
  return r.json<{ url: string; page: string }>();
};
const fresh = async (): Promise<Page> => (await browser.newContext({ locale: 'ru-RU' })).newPage();

beforeAll(async () => {
  db = await createTestDatabase();
  work = await tempDir();
  env = testEnv(db.url, work);
  app = await openApp({ env });
  const [c] = await importRecords(app, cliActor(env), 'claim', path.join(fixturesDir, 'records', 'claim.json'));
  claim = c!.ref;
  server = await buildPortal(app, { log: (l) => logs.push(l) });
  base = await server.listen({ port: 0, host: '127.0.0.1' });
  env = { ...env, DOSSIER_PORTAL__BASE_URL: base };
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await app?.close();
  await db?.drop();
});

describe('portal in a browser', () => {
  it("a lawyer's link: upload a file and a message; both land on the record, audited and acknowledged", async () => {
    const { url, page: kind } = await link('lawyer-ershov');
    expect(kind).toBe('party');
    expect(url.startsWith(`${base}/l/`)).toBe(true);
    const page = await fresh();
    const res = await page.goto(url);
    expect(res!.status()).toBe(200);
    // Security headers: no Referer leaves the page (the link is the credential), no framing, no scripts.
    const h = res!.headers();
    expect(h['referrer-policy']).toBe('no-referrer');
    expect(h['content-security-policy']).toContain("default-src 'none'");
    expect(h['x-frame-options']).toBe('SAMEORIGIN');
    await expect(page.locator('h1').textContent()).resolves.toContain(claim);
    await expect(page.getByText('Пока ничего.').count()).resolves.toBe(1);

    const file = path.join(work, 'Постановление ГИБДД: копия.pdf');
    await copyFile(path.join(fixturesDir, 'scans', 'police-report-cl.pdf'), file);
    await page.setInputFiles('input[type=file]', file);
    await Promise.all([page.waitForURL(/done=/), page.getByRole('button', { name: 'Отправить', exact: true }).click()]);
    const notice = await page.locator('#notice').textContent();
    expect(notice).toContain('Получено: Постановление ГИБДД_ копия.pdf'); // the ":" made safe
    await expect(page.locator('#sent').textContent()).resolves.toContain('Постановление ГИБДД_ копия.pdf');

    await page.fill('textarea[name=text]', 'Оригинал протокола передам курьером в понедельник.');
    await Promise.all([page.waitForURL(/done=/), page.getByRole('button', { name: 'Отправить сообщение' }).click()]);
    await expect(page.locator('#notice').textContent()).resolves.toContain('Сообщение получено');

    // On the record and in its audit, as staff see them at the CLI.
    const show = await dossier(['record', 'show', claim], env);
    expect(show.stdout).toContain('Постановление ГИБДД_ копия.pdf');
    const history = await dossier(['record', 'history', claim], env);
    expect(history.stdout).toMatch(/portal:lawyer-ershov\s+attachment #\d+ Постановление ГИБДД_/);
    const events = (await dossier(['record', 'history', claim, '--json'], env)).json<{ events: { actor: string; kind: string; new_value: { file?: string } | null }[] }>().events;
    expect(events.filter((e) => e.actor === 'portal:lawyer-ershov').map((e) => [e.kind, e.new_value?.file ?? null])).toContainEqual(['attachment_added', 'Постановление ГИБДД_ копия.pdf']);
    expect(history.stdout).toMatch(/portal:lawyer-ershov\s+note: Оригинал протокола/);
    const [att] = await sqlRows<{ content_type: string; created_by: string; category: string }>(db, `SELECT content_type, created_by, category FROM attachments WHERE file_name = 'Постановление ГИБДД_ копия.pdf'`);
    expect(att).toEqual({ content_type: 'application/pdf', created_by: 'portal:lawyer-ershov', category: app.config.intake.incomingCategory });
    // Its name ticks the insurer's checklist item for the police papers (as a file by mail would).
    const ticked = await sqlRows<{ recipient: string; item: string }>(db, `SELECT new_value->>'recipient' AS recipient, new_value->>'item' AS item FROM events WHERE kind = 'checklist_ticked' AND actor = 'portal:lawyer-ershov'`);
    expect(ticked).toContainEqual({ recipient: 'insurer-magistral', item: 'police' });
    // Journaled, and acknowledged by mail to the lawyer's address.
    const journal = await sqlRows<{ kind: string; outcome: string }>(db, 'SELECT kind, outcome FROM portal_journal ORDER BY id');
    expect(journal).toEqual([{ kind: 'file', outcome: 'applied' }, { kind: 'message', outcome: 'applied' }]);
    const acks = await sqlRows<{ to_addresses: string[] }>(db, `SELECT to_addresses FROM outbox WHERE kind = 'acknowledgement'`);
    expect(acks).toHaveLength(2);
    expect(acks[0]!.to_addresses).toEqual(['a.ershov@ershov-law.example']);
    // The link never reaches the log: paths are logged with it cut out.
    const secretPart = new URL(url).pathname.slice(3);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(secretPart);
    expect(logs.join('\n')).toContain('/l/[link]');
  });

  it('refuses a form sent without its CSRF token', async () => {
    const { url } = await link('lawyer-ershov');
    const r = await fetch(`${url}/message`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'text=hello' });
    expect(r.status).toBe(403);
    expect((await sqlRows(db, `SELECT 1 FROM portal_journal WHERE kind = 'message'`)).length).toBe(1); // only the one above
  });

  it("a client's link shows the status in plain words, the documents still needed and whom to contact", async () => {
    const { url, page: kind } = await link('translogistic');
    expect(kind).toBe('status');
    const page = await fresh();
    await page.goto(url);
    const label = app.config.recordTypes.claim!.statuses[app.config.recordTypes.claim!.initialStatus]!.ru;
    await expect(page.locator('#status').textContent()).resolves.toBe(label);
    await expect(page.locator('#timeline li').first().textContent()).resolves.toContain(label);
    await expect(page.getByText('Контакты').count()).resolves.toBe(1);
    // The client's page has no upload form.
    await expect(page.locator('input[type=file]').count()).resolves.toBe(0);
    // In English, from the switch at the bottom of the page.
    await Promise.all([page.waitForURL(/lang=en/), page.getByRole('link', { name: 'English' }).click()]);
    await expect(page.locator('#status').textContent()).resolves.toBe(app.config.recordTypes.claim!.statuses[app.config.recordTypes.claim!.initialStatus]!.en);
    await expect(page.getByText('Documents still needed').count()).resolves.toBe(1);
  });

  it('an expired link and a revoked link get a plain page saying so', async () => {
    const old = await createLink(app, claim, 'broker-garant', { expires: '1d', now: new Date(Date.now() - 2 * 86_400_000) });
    const page = await fresh();
    const r1 = await page.goto(old.url.replace(app.config.portal.baseUrl, base));
    expect(r1!.status()).toBe(410);
    await expect(page.locator('main').textContent()).resolves.toContain('Срок действия этой ссылки истёк.');

    const { url } = await link('broker-garant');
    expect((await page.goto(url))!.status()).toBe(200);
    const revoke = await dossier(['share', 'revoke', claim, '--party', 'broker-garant'], env);
    expect(revoke.code, revoke.stderr).toBe(0);
    const r2 = await page.goto(url);
    expect(r2!.status()).toBe(410);
    await expect(page.locator('main').textContent()).resolves.toContain('Эта ссылка отозвана.');
    await expect(page.locator('form').count()).resolves.toBe(0);
    // A new link works; the revoked one stays refused.
    const again = await link('broker-garant');
    expect((await page.goto(again.url))!.status()).toBe(200);
    expect((await page.goto(url))!.status()).toBe(410);
    // A forged one is not a link at all.
    for (const forged of [url.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')), url.replace(/(.)(.{5})$/, (_m, ch: string, rest: string) => (ch === 'A' ? 'B' : 'A') + rest)]) {
      expect((await page.goto(forged))!.status()).toBe(404);
      await expect(page.locator('main').textContent()).resolves.toContain('Такой ссылки нет.');
    }
  });

  it('staff pages are refused without a sign-in and work with one', async () => {
    const page = await fresh();
    const r = await page.goto(`${base}/staff/r/${claim}`);
    expect(r!.status()).toBe(401);
    await expect(page.locator('main').textContent()).resolves.not.toContain(claim);
    await addUser(app.db, 'anna', 'correct horse battery', 'Anna');
    await page.fill('input[name=login]', 'anna');
    await page.fill('input[name=password]', 'wrong password!');
    await page.getByRole('button', { name: 'Войти' }).click();
    await expect(page.getByText('Неверный логин или пароль.').count()).resolves.toBe(1);
    await page.fill('input[name=login]', 'anna');
    await page.fill('input[name=password]', 'correct horse battery');
    await Promise.all([page.waitForURL(/\/staff\?/), page.getByRole('button', { name: 'Войти' }).click()]);
    await page.fill('input[name=q]', 'Ершов');
    await Promise.all([page.waitForURL(/q=/), page.getByRole('button', { name: 'Найти' }).click()]);
    await Promise.all([page.waitForURL(/\/staff\/r\//), page.getByRole('link', { name: claim }).click()]);
    await expect(page.locator('#attachments').textContent()).resolves.toContain('Постановление ГИБДД_ копия.pdf');
    await expect(page.locator('#portal').textContent()).resolves.toContain('lawyer-ershov');
    await expect(page.locator('#history').textContent()).resolves.toContain('portal:lawyer-ershov');
  });

  it("with portal.staffAuth: proxy, the reverse proxy's authenticated user is the sign-in", async () => {
    const proxied = await openApp({ env: { ...env, DOSSIER_PORTAL__STAFF_AUTH: 'proxy' } });
    const s3 = await buildPortal(proxied);
    const base3 = await s3.listen({ port: 0, host: '127.0.0.1' });
    try {
      const page = await fresh();
      expect((await page.goto(`${base3}/staff/r/${claim}`))!.status()).toBe(401);
      await expect(page.locator('input[name=password]').count()).resolves.toBe(0); // no password form in this mode
      await page.setExtraHTTPHeaders({ 'X-Remote-User': 'boris' });
      expect((await page.goto(`${base3}/staff/r/${claim}`))!.status()).toBe(200);
      await expect(page.locator('nav').textContent()).resolves.toContain('boris');
      await expect(page.locator('h1').textContent()).resolves.toBe(claim);
    } finally {
      await s3.close();
      await proxied.close();
    }
  });

  it('`dossier user add` and `user passwd` read the password from standard input (the real bin/dossier)', async () => {
    const bin = path.join(packageRoot, 'bin', 'dossier');
    const run = (args: string[], input: string) => spawnSync(process.execPath, [bin, ...args], { input, env, encoding: 'utf8' });
    const short = run(['user', 'add', 'carol'], 'short\n');
    expect(short.status).toBe(1);
    expect(short.stderr).toContain('PASSWORD_INVALID');
    const added = run(['user', 'add', 'carol', '--name', 'Carol'], 'a long enough passphrase\n');
    expect(added.status, added.stderr).toBe(0);
    expect(added.stdout).toContain('Added staff user carol.');
    expect(run(['user', 'add', 'carol'], 'a long enough passphrase\n').stderr).toContain('USER_EXISTS');
    expect(run(['user', 'passwd', 'carol'], 'another long passphrase\n').status).toBe(0);
    expect(await authenticate(app.db, 'carol', 'a long enough passphrase')).toBeNull();
    expect(await authenticate(app.db, 'carol', 'another long passphrase')).toEqual({ login: 'carol', name: 'Carol' });
    const [row] = await sqlRows<{ password_hash: string }>(db, `SELECT password_hash FROM staff_users WHERE login = 'carol'`);
    expect(row!.password_hash).not.toContain('passphrase');
  });

  it('`share link` refuses a party not on the record and an expiry already past', async () => {
    const stranger = await dossier(['share', 'link', claim, '--party', 'bank-sever'], env);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain('PARTY_NOT_LINKED');
    const past = await dossier(['share', 'link', claim, '--party', 'lawyer-ershov', '--expires', '2020-01-01'], env);
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(/USAGE.*already past/);
    const text = await dossier(['share', 'link', claim, '--party', 'lawyer-ershov', '--expires', '14d'], env);
    expect(text.stdout).toMatch(new RegExp(`^${base}/l/\\S+\\n  upload and message page of lawyer-ershov \\(recipient\\) for ${claim}; works until `));
  });

  it('`dossier serve --worker` (the real bin/dossier) answers /healthz, sends the queued acknowledgements, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(packageRoot, 'bin', 'dossier'), 'serve', '--port', '0', '--worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    try {
      const address = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const m = /listening on (http:\/\/\S+?) /.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('close', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect(await (await fetch(`${address}/healthz`)).text()).toBe('ok\n');
      // The worker inside sends what the portal queued (the lawyer's acknowledgements, to the file transport).
      // (Until none is queued or being sent: a row is 'sending' between the worker taking it and the reply.)
      for (let i = 0; i < 600 && (await sqlRows(db, `SELECT 1 FROM outbox WHERE kind = 'acknowledgement' AND status IN ('queued', 'sending')`)).length; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await sqlRows(db, `SELECT DISTINCT status FROM outbox WHERE kind = 'acknowledgement'`)).toEqual([{ status: 'sent' }]);
      child.kill('SIGTERM');
      expect(await exited).toBe(143);
    } finally {
      // A failed expectation must not leave the server running after the suite.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });

  it('takes more uploads at once than the database pool has connections', async () => {
    // Pool of 2: each attach transaction holds a connection while it waits for the record's lock;
    // a tick that needs another connection inside it, or no limit on attaching at once, hangs here.
    const narrow = await openApp({ env: { ...env, DOSSIER_DATABASE__POOL_SIZE: '2' } });
    const s4 = await buildPortal(narrow);
    const base4 = await s4.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { url } = await link('lawyer-ershov');
      const page = await fetch(url.replace(base, base4));
      const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const action = /action="([^"]*\/upload[^"]*)"/.exec(await page.text())![1]!.replace(/&amp;/g, '&');
      const codes = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const form = new FormData();
          form.append('file', new Blob([`%PDF-1.4\n% concurrent upload ${i}\n`.padEnd(5000, '.')]), `together-${i}.pdf`);
          return (await fetch(`${base4}${action}`, { method: 'POST', headers: { cookie }, body: form, redirect: 'manual' })).status;
        }),
      );
      expect(codes).toEqual([303, 303, 303, 303, 303, 303]);
      expect((await sqlRows(db, `SELECT 1 FROM attachments WHERE file_name LIKE 'together-%'`)).length).toBe(6);
    } finally {
      await s4.close();
      await narrow.close();
    }
  });

  it('/healthz and /metrics answer for monitoring', async () => {
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
    const m = await (await fetch(`${base}/metrics`)).text();
    expect(m).toContain('# TYPE dossier_outbox_messages gauge');
    const count = async (sql: string) => Number((await sqlRows<{ n: string }>(db, sql))[0]!.n);
    expect(m).toContain(`dossier_outbox_messages{state="sent"} ${await count(`SELECT count(*) AS n FROM outbox WHERE status = 'sent'`)}`);
    const applied = await count(`SELECT count(*) AS n FROM portal_journal WHERE outcome = 'applied'`);
    expect(m).toContain(`dossier_portal_journal{outcome="applied"} ${applied}`);
    expect(m).toContain('dossier_due_items{state="overdue"}');
  });

  it('refuses a file over the upload limit and a program, and slows down repeated sign-ins', async () => {
    // A second portal on the same database with small limits (as portal.* in the configuration).
    const small = await openApp({ env: { ...env, DOSSIER_PORTAL__MAX_UPLOAD_BYTES: '50000', DOSSIER_PORTAL__RATE_LIMIT_PER_MINUTE: '20' } });
    const s2 = await buildPortal(small);
    const base2 = await s2.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { url } = await link('lawyer-ershov');
      const page = await fresh();
      await page.goto(url.replace(base, base2));
      await page.setInputFiles('input[type=file]', path.join(fixturesDir, 'scans', 'scene-photo-1.jpg')); // 85 KB
      await Promise.all([page.waitForURL(/done=/), page.getByRole('button', { name: 'Отправить', exact: true }).click()]);
      await expect(page.locator('#notice').textContent()).resolves.toContain('Не принято: файл больше 49 KB');
      // An ELF program named like a PDF: its bytes say what it is.
      await page.setInputFiles('input[type=file]', { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(200, 1)]) });
      await Promise.all([page.waitForURL(/done=/), page.getByRole('button', { name: 'Отправить', exact: true }).click()]);
      await expect(page.locator('#notice').textContent()).resolves.toContain('Не принято: программы не принимаются (application/x-elf)');
      expect((await sqlRows(db, `SELECT 1 FROM attachments WHERE file_name IN ('scene-photo-1.jpg', 'invoice.pdf')`)).length).toBe(0);
      const refused = await sqlRows<{ outcome: string }>(db, `SELECT outcome FROM portal_journal WHERE original_name IN ('scene-photo-1.jpg', 'invoice.pdf')`);
      expect(refused).toEqual([{ outcome: 'refused' }, { outcome: 'refused' }]);
      // Sign-in: at most 3 a minute from one address here (a tenth of the limit, at least 3).
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await fetch(`${base2}/staff/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'login=x&password=y' })).status);
      expect(codes).toEqual([403, 403, 403, 429]); // no CSRF token: refused; the fourth is not even looked at
    } finally {
      await s2.close();
      await small.close();
    }
  });

  it('the demo prints a client link and a lawyer link that open', async () => {
    const run = await dossier(['demo', '--json'], { ...env, DOSSIER_INTAKE__STAFF_AUTH__MODE: 'dkim' });
    expect(run.code, run.stderr).toBe(0);
    const { links } = run.json<{ links: { client: string; lawyer: string } }>();
    const page = await fresh();
    expect((await page.goto(links.client))!.status()).toBe(200);
    await expect(page.locator('#status').count()).resolves.toBe(1);
    expect((await page.goto(links.lawyer))!.status()).toBe(200);
    await expect(page.locator('input[type=file]').count()).resolves.toBe(1);
    const text = await dossier(['demo'], { ...env, DOSSIER_INTAKE__STAFF_AUTH__MODE: 'dkim' });
    expect(text.stdout).toMatch(new RegExp(`the client's status page +${base}/l/\\S+`));
    expect(text.stdout).toMatch(new RegExp(`the lawyer's upload page +${base}/l/\\S+`));
  });
});
