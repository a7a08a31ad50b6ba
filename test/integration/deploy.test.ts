import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir, packageRoot } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { LOADED, until } from '../helpers/wait.js';
import { startDovecot, type TestDovecot } from '../helpers/dovecot.js';
import { staffNote } from '../helpers/mail.js';
import { smtpEnv, startSmtp, type TestSmtp } from '../helpers/smtp.js';

// The deployment the README describes, proved: three `dossier worker` processes on two "machines"
// (two Dossier homes that share nothing but the PostgreSQL server and, through it, the blob store:
// storage.blobs = postgres), configured as deploy/dossier-worker@.service does — one configuration
// file, the IMAP passwords from a secret file and from a per-mailbox environment variable. Each
// mailbox is read by exactly one worker; the others stand by; when the reader is killed, another
// takes the mailbox over; every message is applied once.

let db: TestDatabase;
let dovecot: TestDovecot;
let smtp: TestSmtp;
const running = new Set<ChildProcess>();
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

interface Worker { name: string; child: ChildProcess; lines: () => Record<string, unknown>[]; exited: Promise<number | null> }

function startWorker(name: string, env: NodeJS.ProcessEnv): Worker {
  const child = spawn(process.execPath, [path.join(packageRoot, 'bin', 'dossier'), 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', () => {});
  const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => (running.delete(child), r(code ?? (signal ? -1 : null)))));
  return { name, child, exited, lines: () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const saw = (w: Worker, event: string, mailbox: string) => w.lines().some((l) => l.event === event && l.mailbox === mailbox);
const processed = async (mailbox: string) => (await sql<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages WHERE mailbox = $1 AND outcome IS NOT NULL', [mailbox]))[0]!.n;

async function append(user: string, messages: Buffer[]): Promise<void> {
  const c = dovecot.client(user);
  await c.connect();
  try {
    for (const m of messages) await c.append('INBOX', m);
  } finally {
    await c.logout();
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  dovecot = await startDovecot();
  smtp = await startSmtp();
  const env = testEnv(db.url, await tempDir());
  const deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref;
  await dossier(['record', 'status', deal, 'submitted'], env);
});
afterEach(() => {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
});
afterAll(async () => {
  await dovecot.stop();
  await smtp.stop();
  await db.drop();
});

describe('three workers on two machines, one PostgreSQL', () => {
  it('ships a systemd unit that systemd accepts and a container file', async () => {
    const unit = path.join(packageRoot, 'deploy', 'dossier-worker@.service');
    const text = await readFile(unit, 'utf8');
    expect(text).toMatch(/^ExecStart=\/usr\/bin\/node \/srv\/dossier\/bin\/dossier worker$/m);
    expect(text).toMatch(/^Environment=DOSSIER_INTAKE__MAILBOXES__0__PASSWORD_FILE=%d\/imap-0-password$/m);
    const analyze = spawnSync('systemd-analyze', ['--version']);
    if (analyze.status === 0) {
      // `verify` wants an instance name; a copy named dossier-worker@1.service is the unit systemd runs.
      const copy = path.join(await tempDir(), 'dossier-worker@1.service');
      await writeFile(copy, text);
      const v = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      expect(v.stderr.split('\n').filter((l) => /dossier-worker/.test(l) && !/Failed to resolve|not executable|No such file/.test(l))).toEqual([]);
    }
    const containerfile = await readFile(path.join(packageRoot, 'deploy', 'Containerfile'), 'utf8');
    expect(containerfile).toMatch(/^CMD \["worker"\]$/m);
    expect(containerfile).toMatch(/DOSSIER_STORAGE__BLOBS=postgres/);
  });

  it('each mailbox read by exactly one worker; a killed reader is taken over; every message applied once; blobs shared', async () => {
    const work = await tempDir();
    const secret = path.join(work, 'imap-box1.secret');
    await writeFile(secret, 'secret\n', { mode: 0o600 });
    const config = path.join(work, 'dossier.config.yaml');
    await writeFile(
      config,
      [
        'storage: { blobs: postgres }',
        'intake:',
        '  perSenderPerHour: 100000',
        '  mailboxes:',
        `    - { name: box1, host: 127.0.0.1, port: ${dovecot.port}, security: none, user: deploy1, passwordFile: ${secret}, pollSeconds: 120 }`,
        `    - { name: box2, host: 127.0.0.1, port: ${dovecot.port}, security: none, user: deploy2, password: not-this-one, pollSeconds: 120 }`,
        'worker: { pollingIntervalSeconds: 0.5, standbySeconds: 1 }',
        '',
      ].join('\n'),
    );
    const machineA = path.join(work, 'machine-a');
    const machineB = path.join(work, 'machine-b');
    const envOn = (home: string) =>
      testEnv(db.url, home, { ...smtpEnv(smtp.port), DOSSIER_CONFIG: config, DOSSIER_INTAKE__MAILBOXES__BOX2__PASSWORD: 'secret' });

    const w1 = startWorker('A1', envOn(machineA));
    await until('A1 to read both mailboxes', () => saw(w1, 'mailbox_active', 'box1') && saw(w1, 'mailbox_active', 'box2'));
    const w2 = startWorker('A2', envOn(machineA));
    const w3 = startWorker('B1', envOn(machineB));
    for (const w of [w2, w3]) await until(`${w.name} to stand by on both`, () => saw(w, 'mailbox_standby', 'box1') && saw(w, 'mailbox_standby', 'box2'));
    const workers = [w1, w2, w3];
    for (const box of ['box1', 'box2']) expect(workers.filter((w) => saw(w, 'mailbox_active', box)).map((w) => w.name)).toEqual(['A1']);

    const N = 30;
    await append('deploy1', Array.from({ length: N }, (_, i) => staffNote(1000 + i)));
    await append('deploy2', Array.from({ length: N }, (_, i) => staffNote(2000 + i)));
    await until('A1 to be busy with box2', async () => (await processed('box2')) >= 5);
    w1.child.kill('SIGKILL'); // a machine going away: no goodbye, its sessions and locks end with it
    await w1.exited;
    const heir = await until('another worker to take box2 over', () => [w2, w3].find((w) => saw(w, 'mailbox_active', 'box2')));
    await until('box1 to be taken over too', () => [w2, w3].some((w) => saw(w, 'mailbox_active', 'box1')));
    // Exactly one of the survivors took each mailbox.
    for (const box of ['box1', 'box2']) expect([w2, w3].filter((w) => saw(w, 'mailbox_active', box))).toHaveLength(1);
    expect(heir.name).toMatch(/^(A2|B1)$/);

    // Mail that arrives after the takeover is read too.
    await append('deploy2', Array.from({ length: 5 }, (_, i) => staffNote(3000 + i)));
    await until('every message to be processed', async () => (await processed('box1')) === N && (await processed('box2')) === N + 5, 120_000);
    const outcomes = await sql<{ mailbox: string; outcome: string; n: number }>(
      "SELECT mailbox, outcome, count(*)::int AS n FROM inbound_messages WHERE mailbox IN ('box1', 'box2') GROUP BY mailbox, outcome ORDER BY mailbox",
    );
    expect(outcomes).toEqual([
      { mailbox: 'box1', outcome: 'applied', n: N },
      { mailbox: 'box2', outcome: 'applied', n: N + 5 },
    ]);
    const docs = (await sql<{ n: number; distinct: number }>("SELECT count(*)::int AS n, count(DISTINCT file_name)::int AS distinct FROM attachments WHERE source = 'message' AND file_name LIKE 'doc-%'"))[0]!;
    expect(docs).toEqual({ n: 2 * N + 5, distinct: 2 * N + 5 });

    // The stored files are in PostgreSQL, where both machines reach them; no machine kept a copy.
    expect((await sql<{ n: number }>('SELECT count(*)::int AS n FROM blob_contents'))[0]!.n).toBeGreaterThanOrEqual(2 * N + 5);
    for (const home of [machineA, machineB]) {
      const blobs = path.join(home, 'blobs');
      expect(existsSync(blobs) ? readdirSync(blobs) : []).toEqual([]);
    }

    for (const w of [w2, w3]) w.child.kill('SIGTERM');
    expect(await Promise.all([w2.exited, w3.exited])).toEqual([143, 143]);
  }, 300_000 * LOADED);
});
