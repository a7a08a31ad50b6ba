import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir, packageRoot } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { LOADED, until } from '../helpers/wait.js';
import { folderCounts, startDovecot, type TestDovecot } from '../helpers/dovecot.js';
import { outlookForward, staffNote } from '../helpers/mail.js';
import { smtpEnv, startSmtp, type TestSmtp } from '../helpers/smtp.js';

// `dossier worker`, the long-running main job, as a real process against a real Dovecot (IMAP IDLE)
// and a real SMTP server: mail is processed as it arrives, two workers share one mailbox without
// processing anything twice, and SIGTERM in the middle of a batch loses nothing.

let db: TestDatabase;
let dovecot: TestDovecot;
let smtp: TestSmtp;
let deal: string;
let userNo = 0;
const running = new Set<ChildProcess>();
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

/** A worker process reading the IMAP user's INBOX, sending through the test SMTP server. */
async function envFor(user: string, extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  return testEnv(db.url, await tempDir(), {
    ...smtpEnv(smtp.port),
    // pollSeconds is long on purpose: only IDLE can make the worker see new mail within seconds.
    DOSSIER_INTAKE__MAILBOXES: `[{name: ${user}, host: 127.0.0.1, port: ${dovecot.port}, security: none, user: ${user}, password: secret, pollSeconds: 3600}]`,
    DOSSIER_INTAKE__PER_SENDER_PER_HOUR: '100000',
    DOSSIER_WORKER__POLLING_INTERVAL_SECONDS: '0.5',
    DOSSIER_WORKER__STANDBY_SECONDS: '1',
    ...extra,
  });
}

interface Worker { child: ChildProcess; lines: () => Record<string, unknown>[]; exited: Promise<number | null> }

function startWorker(env: NodeJS.ProcessEnv): Worker {
  const child = spawn(process.execPath, [path.join(packageRoot, 'bin', 'dossier'), 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', () => {});
  const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => (running.delete(child), r(code ?? (signal ? -1 : null)))));
  return { child, exited, lines: () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const processed = async (mailbox: string) => (await sql<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages WHERE mailbox = $1 AND outcome IS NOT NULL', [mailbox]))[0]!.n;

const folders = async (user: string) => {
  const { inbox, processed } = await folderCounts(dovecot, user); // nothing here is quarantined
  return { inbox, processed };
};

async function appendAll(user: string, messages: Buffer[]): Promise<void> {
  const c = dovecot.client(user);
  await c.connect();
  try {
    for (const m of messages) await c.append('INBOX', m);
  } finally {
    await c.logout();
  }
}

/** Every note document attached once: the effect of each message applied exactly once. */
async function noteDocs(): Promise<{ n: number; distinct: number }> {
  return (await sql<{ n: number; distinct: number }>("SELECT count(*)::int AS n, count(DISTINCT file_name)::int AS distinct FROM attachments WHERE source = 'message' AND file_name LIKE 'doc-%'"))[0]!;
}

beforeAll(async () => {
  db = await createTestDatabase();
  dovecot = await startDovecot();
  smtp = await startSmtp();
  const env = testEnv(db.url, await tempDir());
  deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref;
  await dossier(['record', 'status', deal, 'submitted'], env);
});
afterEach(async () => {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
});
afterAll(async () => {
  await dovecot.stop();
  await smtp.stop();
  await db.drop();
});

describe('dossier worker', () => {
  it('applies a forwarded approval within seconds of its arrival (IDLE), sends the mail, and keeps going until SIGTERM', async () => {
    const user = `intake${++userNo}`;
    const w = startWorker(await envFor(user));
    await until('the worker to read the mailbox', async () => w.lines().some((l) => l.event === 'mailbox_active' && l.mailbox === user));

    const approval = outlookForward({
      id: 'worker-approval-1',
      command: 'одобрено, сумма 1 500 000',
      bankFrom: 'n.pavlova@bank-sever.example',
      bankName: 'Павлова Наталья Сергеевна',
      bankSubject: 'Решение по заявке Смирнов Алексей Викторович',
      bankText: 'По заявке клиента Смирнов Алексей Викторович принято положительное решение: сумма 1 500 000 руб.',
    });
    await appendAll(user, [approval]);
    const [row] = await until('the approval to be applied', async () => {
      const rows = await sql<{ outcome: string; reason: string }>("SELECT outcome, reason FROM inbound_messages WHERE message_id = '<worker-approval-1@dossier.example>' AND outcome IS NOT NULL");
      return rows.length ? rows : null;
    }, 60_000); // stretched by LOADED, still well under the hour's poll: only IDLE gets it here
    expect(row!.outcome).toBe('applied'); // IDLE latency itself is measured by bench/idle.mjs, not here
    const [rec] = await sql<{ status: string }>('SELECT status FROM records WHERE ref = $1', [deal]);
    expect(rec!.status).toBe('decided');
    const [amount] = await sql<{ value: string }>(
      "SELECT f.value #>> '{}' AS value FROM field_values f JOIN records r ON r.id = f.record_id JOIN parties p ON p.id = f.party_id WHERE r.ref = $1 AND p.key = 'bank-sever' AND f.field_id = 'decision_amount'",
      [deal],
    );
    expect(amount!.value).toBe('1500000.00');

    // The client's notification and the manager's confirmation reach the SMTP server.
    await until('both emails to be delivered', async () => smtp.received.length >= 2, 15_000);
    const to = smtp.received.map((m) => m.envelopeTo.join(',')).sort();
    expect(to).toEqual(['a.smirnov@example.ru', 'manager@dossier.example']);
    const notice = smtp.received.find((m) => m.envelopeTo.includes('a.smirnov@example.ru'))!;
    expect(notice.mail.subject).toBe(`[${deal}] Решение банка по вашей заявке`);
    expect(notice.mail.text).toContain('1\u00a0500\u00a0000,00');
    await until('the outbox rows to be marked sent', async () => (await sql("SELECT 1 FROM outbox WHERE status = 'sent'")).length === 2);
    expect(await folders(user)).toEqual({ inbox: 0, processed: 1 });

    // Still running: a later message is processed too.
    await appendAll(user, [staffNote(1000)]);
    await until('the second message', async () => (await processed(user)) === 2, 10_000);

    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(143);
    const lines = w.lines();
    expect(lines.filter((l) => l.event === 'intake').map((l) => l.outcome)).toEqual(['applied', 'applied']);
    expect(lines.filter((l) => l.event === 'mail' && l.outcome === 'sent')).toHaveLength(2);
    expect(lines.at(-1)).toMatchObject({ event: 'worker_stopped' });
  }, 180_000 * LOADED);

  it('pack send --background: a running worker builds the package and sends it, in the name of who asked', async () => {
    const user = `intake${++userNo}`;
    const env = await envFor(user);
    const w = startWorker(env);
    await until('the worker to start', async () => w.lines().some((l) => l.event === 'worker_started'));
    const before = smtp.received.length;
    const q = await dossier(['pack', 'send', deal, '--recipient', 'bank-volga', '--background'], env);
    expect(q.code).toBe(0);
    expect(q.stdout).toContain(`Queued: the packages of ${deal} for bank-volga.`);
    const got = await until('the package email', async () => smtp.received.slice(before).find((m) => m.envelopeTo.includes('autoloans@volga-credit.example.ru')), 30_000);
    expect(got.mail.attachments.map((a) => a.filename)).toEqual([expect.stringMatching(/\.zip$/)]);
    expect(got.mail.subject).toMatch(new RegExp(`^\\[${deal} [a-z0-9]+\\] `));
    await until('the log line', async () => w.lines().some((l) => l.event === 'package' && l.recipient === 'bank-volga' && l.by === 'cli:tester'));
    const [built] = await sql<{ actor: string }>("SELECT e.actor FROM events e JOIN records r ON r.id = e.record_id WHERE r.ref = $1 AND e.kind = 'package_built' AND e.field = 'package:bank-volga'", [deal]);
    expect(built!.actor).toBe('cli:tester');

    const dry = await dossier(['pack', 'send', deal, '--all', '--background', '--dry-run'], env);
    expect(dry.code).toBe(1);
    expect(dry.stderr).toBe('error USAGE: A dry run shows what would be sent right here: drop --background.');
    const unknown = await dossier(['pack', 'send', 'DL-2026-99999', '--all', '--background'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error RECORD_NOT_FOUND/);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(143);
  }, 60_000 * LOADED);

  it('two workers on one mailbox of 200 messages: each message processed once, the standby takes over when the reader is killed', async () => {
    const user = `intake${++userNo}`;
    const N = 200;
    const env = await envFor(user);
    const a = startWorker(env);
    await until('worker A to read the mailbox', async () => a.lines().some((l) => l.event === 'mailbox_active' && l.mailbox === user));
    const b = startWorker(env);
    await until('worker B to stand by', async () => b.lines().some((l) => l.event === 'mailbox_standby' && l.mailbox === user));

    const before = await noteDocs();
    await appendAll(user, Array.from({ length: N }, (_, i) => staffNote(i + 1)));
    await until('A to be in the middle of the mailbox', async () => (await processed(user)) >= 40, 60_000);
    a.child.kill('SIGKILL'); // no goodbye: its PostgreSQL session ends and the lock with it
    await a.exited;
    await until('B to take the mailbox over', async () => b.lines().some((l) => l.event === 'mailbox_active' && l.mailbox === user), 15_000);
    await until('every message to be processed', async () => (await processed(user)) === N, 90_000);

    const outcomes = await sql<{ outcome: string; n: number }>('SELECT outcome, count(*)::int AS n FROM inbound_messages WHERE mailbox = $1 GROUP BY outcome', [user]);
    expect(outcomes).toEqual([{ outcome: 'applied', n: N }]);
    const after = await noteDocs();
    expect(after.n - before.n).toBe(N);
    expect(after.distinct - before.distinct).toBe(N);
    await until('the folders to agree with the journal', async () => {
      const f = await folders(user);
      return f.inbox === 0 && f.processed === N;
    }, 15_000);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(143);
  }, 180_000 * LOADED);

  it('SIGTERM in the middle of a batch: the message in hand is finished, the rest stay in the inbox for the restart', async () => {
    const user = `intake${++userNo}`;
    const N = 60;
    const env = await envFor(user);
    const before = await noteDocs();
    await appendAll(user, Array.from({ length: N }, (_, i) => staffNote(5000 + i)));
    const w = startWorker(env);
    await until('a few messages to be processed', async () => (await processed(user)) >= 5, 30_000);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(143);
    expect(w.lines().at(-1)).toMatchObject({ event: 'worker_stopped' });

    const done = await processed(user);
    expect(done).toBeLessThan(N); // it really stopped in the middle
    // A fetched batch is journaled together (one statement): messages not reached before the stop
    // may be journaled — bytes and row kept, no outcome, no effect — and are still in the inbox; the
    // restart finishes them, each once (counted below).
    const [pending] = await sql<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages WHERE mailbox = $1 AND outcome IS NULL', [user]);
    expect(pending!.n).toBeLessThanOrEqual(N - done);
    expect(await folders(user)).toEqual({ inbox: N - done, processed: done });

    const again = startWorker(env);
    await until('the restart to finish the rest', async () => (await processed(user)) === N, 60_000);
    again.child.kill('SIGTERM');
    await again.exited;
    const after = await noteDocs();
    expect(after.n - before.n).toBe(N);
    expect(after.distinct - before.distinct).toBe(N);
    expect(await folders(user)).toEqual({ inbox: 0, processed: N });
  }, 120_000 * LOADED);
});
