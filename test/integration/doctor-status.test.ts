import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import pg from 'pg';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { freePort, startDovecot, type TestDovecot } from '../helpers/dovecot.js';
import { smtpEnv, startSmtp, type TestSmtp } from '../helpers/smtp.js';

// `dossier doctor` and `dossier status` against a real PostgreSQL, a real Dovecot and a real SMTP
// server (smtp-server in this process); the failures are real too: a wrong password, a port where
// nothing listens, a configuration file that does not parse.

interface Check { name: string; status: 'OK' | 'WARN' | 'FAIL' | 'SKIP'; message: string; hint?: string; details?: string[] }
interface Report { ok: boolean; counts: Record<string, number>; checks: Check[] }

let db: TestDatabase;
let home: string;
let env: NodeJS.ProcessEnv;
let dovecot: TestDovecot;
let smtp: TestSmtp;

const mailbox = (password: string) => `[{name: decisions, host: 127.0.0.1, port: ${dovecot.port}, security: none, user: intake, password: ${password}}]`;


// The test world trusts its MTA mx.dossier.example (testEnv), which doctor rightly fails as a
// placeholder; the doctor runs here use the default mode, dkim, unless a test says otherwise.
const doctorEnv = () => ({ ...env, DOSSIER_INTAKE__STAFF_AUTH__MODE: 'dkim' });

async function doctor(extra: NodeJS.ProcessEnv = {}, args: string[] = []) {
  const r = await dossier(['doctor', '--json', ...args], { ...doctorEnv(), ...extra });
  const report = r.json<Report>();
  const check = (name: string) => {
    const c = report.checks.find((x) => x.name === name);
    expect(c, `check ${name} in ${r.stdout}`).toBeDefined();
    return c!;
  };
  return { ...r, report, check };
}

beforeAll(async () => {
  db = await createTestDatabase();
  home = await tempDir();
  [dovecot, smtp] = await Promise.all([startDovecot(), startSmtp()]);
  env = testEnv(db.url, home, {
    DOSSIER_MAIL__TOKEN_SECRET: 'doctor-token-secret-0123456789abcdef',
    DOSSIER_INTAKE__MAILBOXES: mailbox('secret'),
    ...smtpEnv(smtp.port),
  });
});
afterAll(async () => {
  await Promise.all([dovecot?.stop(), smtp?.stop()]);
  await db?.drop();
});

describe('dossier doctor', () => {
  it('passes against a running Dovecot and SMTP server, creating the mailbox folders the worker needs', async () => {
    const r = await doctor();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report.ok).toBe(true);
    expect(r.report.checks.map((c) => c.name)).toEqual(['config', 'database', 'migrations', 'pg-boss', 'blobs', 'maildir', 'imap:decisions', 'mail transport', 'sms', 'staff auth', 'reply tokens', 'field schemas', 'field roles', 'templates']);
    for (const name of ['config', 'database', 'migrations', 'blobs', 'maildir', 'imap:decisions', 'mail transport', 'sms', 'staff auth', 'reply tokens', 'field schemas', 'field roles', 'templates']) {
      expect(r.check(name).status, `${name}: ${r.check(name).message}`).toBe('OK');
    }
    expect(r.check('database').message).toMatch(/^PostgreSQL \d+/);
    expect(r.check('migrations').message).toMatch(/all applied/);
    // No worker has run against this database yet.
    expect(r.check('pg-boss')).toMatchObject({ status: 'WARN', hint: expect.stringContaining('dossier worker') });
    expect(r.check('imap:decisions').message).toContain('logged in as intake@127.0.0.1');
    expect(r.check('imap:decisions').message).toContain('Dossier/Processed was missing: created it');
    expect(r.check('mail transport').message).toContain(`SMTP 127.0.0.1:${smtp.port}`);
    expect(r.check('templates').message).toMatch(/\d+ template\(s\) checked/);

    // The readable form: one line per check, the status first.
    const text = await dossier(['doctor'], doctorEnv());
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^OK\s+imap:decisions\s+mailbox "decisions": logged in/m);
    expect(text.stdout).toMatch(/^WARN\s+pg-boss/m);
    expect(text.stdout).toMatch(/hint: It is created when a worker first starts/);
    expect(text.stdout).toMatch(/13 OK, 1 warning\(s\), 0 failed\.$/);
  });

  it('fails a mailbox whose password is wrong, naming the mailbox and the setting', async () => {
    const r = await doctor({ DOSSIER_INTAKE__MAILBOXES: mailbox('not-the-password') });
    expect(r.code).toBe(2);
    expect(r.report.ok).toBe(false);
    const c = r.check('imap:decisions');
    expect(c.status).toBe('FAIL');
    expect(c.message).toContain('login as intake@127.0.0.1');
    expect(c.hint).toContain('mailbox "decisions"');
    expect(c.hint).toContain('intake.mailboxes[0].password');
    // Everything else is still checked.
    expect(r.check('database').status).toBe('OK');
    expect(r.check('mail transport').status).toBe('OK');
    expect(JSON.parse(r.stderr).error).toMatchObject({ code: 'DOCTOR_FAILED', message: '1 check(s) failed: imap:decisions.' });

    const text = await dossier(['doctor'], { ...doctorEnv(), DOSSIER_INTAKE__MAILBOXES: mailbox('not-the-password') });
    expect(text.code).toBe(2);
    expect(text.stdout).toMatch(/^FAIL\s+imap:decisions/m);
    expect(text.stderr).toContain('error DOCTOR_FAILED: 1 check(s) failed: imap:decisions.');
  });

  it('fails the SMTP check when nothing listens there, with a hint', async () => {
    const port = await freePort();
    const r = await doctor({ DOSSIER_MAIL__SMTP__PORT: String(port) });
    expect(r.code).toBe(2);
    const c = r.check('mail transport');
    expect(c.status).toBe('FAIL');
    expect(c.message).toContain(`SMTP 127.0.0.1:${port}`);
    expect(c.message).toMatch(/ECONNREFUSED/);
    expect(c.hint).toContain('is the SMTP server up?');
    expect(c.hint).toContain('mail.smtp.host');
    expect(r.check('imap:decisions').status).toBe('OK');
  });

  it('stops no check longer than its time limit: a server that accepts but never answers', async () => {
    // A listener that never sends the SMTP greeting (a firewall or a hung server).
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const r = await doctor({ DOSSIER_MAIL__SMTP__PORT: String(port) }, ['--timeout', '2']);
      // Its own time limit ended the check (no wall-clock bound here: the suite runs on busy machines).
      expect(r.check('mail transport').message).toContain('no answer within 2 s');
      expect(r.code).toBe(2);
      expect(r.check('mail transport')).toMatchObject({ status: 'FAIL' });
      expect(r.check('mail transport').hint).toContain('mail.smtp');
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('reports a broken configuration file as a FAIL line, without needing the database', async () => {
    const dir = await tempDir();
    const invalid = path.join(dir, 'invalid.yaml');
    await writeFile(invalid, 'attachments:\n  maxBytes: -1\ndatabase:\n  poolSize: 0\n');
    // The database URL points where nothing listens: a config problem must not depend on it.
    const r = await doctor({ DOSSIER_CONFIG: invalid, DATABASE_URL: `postgres://nobody@127.0.0.1:${await freePort()}/none` });
    expect(r.code).toBe(2);
    expect(r.report.checks).toHaveLength(1);
    const c = r.check('config');
    expect(c.status).toBe('FAIL');
    expect(c.message).toBe('The configuration has 2 problem(s):');
    expect(c.details).toEqual([expect.stringMatching(/^database\.poolSize: /), expect.stringMatching(/^attachments\.maxBytes: /)]);
    expect(c.hint).toContain(`Fix them in ${invalid}`);
    expect(c.hint).toContain('Nothing else was checked');
    expect(JSON.parse(r.stderr).error.code).toBe('DOCTOR_FAILED');

    // A file that is not even YAML, given with --config: the line and the file in the report.
    const unparsable = path.join(dir, 'unparsable.yaml');
    await writeFile(unparsable, 'mail:\n  transport: smtp\ndatabase: [not, a, mapping\n');
    const text = await dossier(['doctor', '--config', unparsable], doctorEnv());
    expect(text.code).toBe(2);
    expect(text.stdout).toMatch(/^FAIL\s+config\s+The configuration has 1 problem\(s\):$/m);
    expect(text.stdout).toContain(`  - ${unparsable}:4: Flow sequence`);
    expect(text.stdout).toMatch(/0 OK, 0 warning\(s\), 1 failed\.$/);
    expect(text.stderr).toContain('error DOCTOR_FAILED: 1 check(s) failed: config.');
  });

  it('reports a database that cannot be reached and still checks the mail servers', async () => {
    const r = await doctor({ DATABASE_URL: `postgres://nobody@127.0.0.1:${await freePort()}/none` });
    expect(r.code).toBe(2);
    expect(r.check('config').status).toBe('OK');
    expect(r.check('database')).toMatchObject({ status: 'FAIL', hint: expect.stringContaining('DATABASE_URL') });
    for (const name of ['migrations', 'pg-boss', 'blobs', 'reply tokens', 'field schemas', 'field roles', 'templates']) expect(r.check(name).status).toBe('SKIP');
    expect(r.check('imap:decisions').status).toBe('OK');
    expect(r.check('mail transport').status).toBe('OK');
  });
});

describe('dossier doctor: staff authentication and reply tokens', () => {
  it('shows the staff-authentication setting: dkim by default', async () => {
    const r = await doctor();
    expect(r.check('staff auth')).toMatchObject({ status: 'OK', message: expect.stringMatching(/^dkim: Dossier verifies the DKIM signature/) });
    expect(r.check('staff auth').message).toContain('staff manager@dossier.example');
  });

  it('fails mode mta that trusts a placeholder, or trusts nothing real', async () => {
    const placeholder = await doctor({ DOSSIER_INTAKE__STAFF_AUTH__MODE: 'mta', DOSSIER_INTAKE__STAFF_AUTH__TRUSTED_AUTH_SERV_ID: 'mx.dossier.example', DOSSIER_INTAKE__STAFF_AUTH__MTA_HOSTNAME: 'mx.dossier.example' });
    expect(placeholder.code).toBe(2);
    expect(placeholder.check('staff auth')).toMatchObject({ status: 'FAIL', message: expect.stringContaining('trusts mx.dossier.example, a placeholder'), hint: expect.stringContaining('intake.staffAuth.trustedAuthServId') });
    expect(JSON.parse(placeholder.stderr).error.message).toContain('staff auth');
    const unset = await doctor({ DOSSIER_INTAKE__STAFF_AUTH__MODE: 'mta', DOSSIER_INTAKE__STAFF_AUTH__TRUSTED_AUTH_SERV_ID: 'mx1.corp.ru', DOSSIER_INTAKE__STAFF_AUTH__MTA_HOSTNAME: 'null' });
    expect(unset.check('staff auth')).toMatchObject({ status: 'FAIL', message: 'mta: mtaHostname not set, so no staff mail can be verified: the setting trusts nothing real' });
    const real = await doctor({ DOSSIER_INTAKE__STAFF_AUTH__MODE: 'mta', DOSSIER_INTAKE__STAFF_AUTH__TRUSTED_AUTH_SERV_ID: 'mx1.corp.ru', DOSSIER_INTAKE__STAFF_AUTH__MTA_HOSTNAME: 'mx1.corp.ru' });
    expect(real.check('staff auth')).toMatchObject({ status: 'OK', message: expect.stringContaining('trusts Authentication-Results by mx1.corp.ru above a Received by mx1.corp.ru') });
  });

  it('fails a reply-token secret that is not the one that issued the tokens', async () => {
    const ok = await doctor();
    expect(ok.check('reply tokens')).toMatchObject({ status: 'OK', message: expect.stringContaining('secret mail.tokenSecret') });
    // The fingerprint of the secret that issued the tokens out there is another one's.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`INSERT INTO settings (key, value) VALUES ('reply_token_fingerprint', '0123456789abcdef') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`);
      const changed = await doctor();
      expect(changed.code).toBe(2);
      expect(changed.check('reply tokens')).toMatchObject({ status: 'FAIL', message: expect.stringContaining('is not the one that issued the tokens in circulation') });
    } finally {
      await client.query(`DELETE FROM settings WHERE key = 'reply_token_fingerprint'`);
      await client.end();
    }
  });
});

describe('dossier status', () => {
  it('counts intake outcomes, quarantine, the outbox and SMS after ingesting mail', async () => {
    const deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref as string;
    await dossier(['record', 'status', deal, 'submitted'], env);
    const files = ['01-outlook-ru-forward-approved.eml', '18-spoof-no-auth-results.eml'].map((f) => path.join(fixturesDir, 'mail', f));
    const ingest = await dossier(['mail', 'ingest', ...files, '--json'], env);
    expect(ingest.stderr).toBe('');
    const results = ingest.json<{ outcome: string; outbox: number[] }[]>();
    expect(results.map((x) => x.outcome)).toEqual(['applied', 'quarantined']);
    const mails = results.reduce((n, x) => n + x.outbox.length, 0);

    const r = await dossier(['status', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const s = r.json();
    expect(s.intake.lastDay).toEqual({ applied: 1, partial: 0, quarantined: 1, ignored: 0, refused: 0, failed: 0, pending: 0 });
    expect(s.intake.quarantined).toEqual({ total: 1, lastDay: 1 });
    expect(s.intake.pending).toEqual({ count: 0, oldest: null });
    expect(s.outbox).toEqual({ queued: mails, sending: 0, sent: 0, delivered: 0, failed: 0, bounced: 0, cancelled: 0 });
    expect(s.sms).toEqual({ queued: 1, sent: 0, failed: 0 });
    expect(s.queues).toBeNull(); // no worker has created the pg-boss schema yet
    expect(s.mailboxes).toEqual([{ mailbox: 'decisions', configured: true, lastPollAt: null, lastOkAt: null, lastError: null, lastUid: null }]);

    const text = (await dossier(['status'], env)).stdout.replace(/\n {20,}/g, ' '); // wrapped lines joined back (80 columns)
    expect(text).toMatch(/^Outbox\s+queued \d+\s+·\s+sending 0\s+·\s+sent 0\s+·\s+delivered 0\s+·\s+failed 0\s+·\s+bounced 0\s+·\s+cancelled 0$/m);
    expect(text).toMatch(/^Mail in, last 24 h\s+applied 1 · partial 0 · quarantined 1 · ignored 0/m);
    expect(text).toMatch(/^Quarantined\s+1 in the last 24 h, 1 in all$/m);
    expect(text).toMatch(/^decisions\s+never\s+—/m);
  });

  it('shows the mailbox\'s last poll and the mail sent after a worker pass over IMAP', async () => {
    await dovecot.append('intake', await readFile(path.join(fixturesDir, 'mail', '25-exchange-autoreply-ru.eml')));
    const before = Date.now();
    const w = await dossier(['worker', '--until-idle'], env);
    expect(w.code, w.stderr).toBe(0);

    const s = (await dossier(['status', '--json'], env)).json();
    const [mb] = s.mailboxes;
    expect(mb).toMatchObject({ mailbox: 'decisions', configured: true, lastError: null });
    expect(new Date(mb.lastPollAt).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(new Date(mb.lastOkAt).getTime()).toBeGreaterThanOrEqual(new Date(mb.lastPollAt).getTime());
    expect(s.intake.lastDay).toMatchObject({ applied: 1, quarantined: 1, ignored: 1, pending: 0 });
    expect(s.outbox.queued).toBe(0);
    expect(s.outbox.sent).toBe(smtp.received.length);
    expect(s.outbox.sent).toBeGreaterThan(0);
    expect(s.sms).toMatchObject({ queued: 0, sent: 1 });
    const send = (s.queues as { queue: string; queued: number; completed: number }[]).find((q) => q.queue === 'mail.send');
    expect(send).toMatchObject({ queued: 0, completed: s.outbox.sent });

    const text = (await dossier(['status'], env)).stdout.replace(/\n {20,}/g, ' '); // wrapped lines joined back (80 columns)
    expect(text).toMatch(/^mail\.send\s+0\s+0\s+0\s+0\s+\d+$/m);
    expect(text).toMatch(/^decisions\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+\d{4}-\d\d-\d\d \d\d:\d\d$/m);
  });

  it('doctor is all OK once a worker has run: the pg-boss schema exists and the folders are there', async () => {
    const r = await doctor();
    expect(r.code, r.stdout).toBe(0);
    expect(r.report.counts).toEqual({ OK: 14, WARN: 0, FAIL: 0, SKIP: 0 });
    expect(r.check('pg-boss').message).toMatch(/schema pgboss v\d+, queue\(s\): .*mail\.send/);
    expect(r.check('imap:decisions').message).toContain('Dossier/Processed exists; Dossier/Quarantine exists');
    expect(r.check('imap:decisions').message).toContain('INBOX: 0 message(s) waiting');
  });
});
