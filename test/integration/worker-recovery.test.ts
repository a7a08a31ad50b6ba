import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp } from '../../src/app.js';
import { recoverOrphanedJobs } from '../../src/jobs/liveness.js';
import { fixturesDir, packageRoot } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { staffNote } from '../helpers/mail.js';
import { smtpEnv, startSmtp, type TestSmtp } from '../helpers/smtp.js';

// A worker SIGKILLed in the middle of sending (issue 13): its mail.send job is left "active" in
// pg-boss, and its key blocked the row until the job's heartbeat ran out. Now `worker --until-idle`
// sees the dead worker's lock is gone and runs the job at once: the mail is sent by that run.

let db: TestDatabase;
let smtp: TestSmtp;
let hang: Server;
const sockets = new Set<Socket>();
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtp();
  // An SMTP server that accepts the connection and never says a word: the worker waits mid-job.
  hang = createServer((s) => void sockets.add(s.on('error', () => {})));
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  hang?.close();
  await smtp?.stop();
  await db?.drop();
});

describe('a killed worker\'s jobs', () => {
  it('worker --until-idle sends the mail a SIGKILLed worker was in the middle of sending', async () => {
    const home = await tempDir();
    const base = testEnv(db.url, home, { DOSSIER_MAIL__TOKEN_SECRET: 'worker-recovery-secret-0123456789', DOSSIER_WORKER__POLLING_INTERVAL_SECONDS: '0.5', DOSSIER_MAIL__SMTP__TIMEOUT_SECONDS: '600' });
    await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], base);
    // Mail to send: the manager's command intake cannot apply is answered (one outbox row).
    const file = path.join(home, 'cmd.eml');
    await writeFile(file, staffNote(1).toString('utf8').replace('Прикладываю документ номер 1.', 'одобрено'));
    const ing = await dossier(['mail', 'ingest', file, '--json'], base);
    expect(ing.code, ing.stderr).toBe(0);
    const [row] = await sql<{ id: number; subject: string }>(`SELECT id, subject FROM outbox ORDER BY id DESC LIMIT 1`);
    expect(row, `intake answered: ${ing.stdout}`).toBeTruthy();

    const child = spawn(process.execPath, [path.join(packageRoot, 'bin', 'dossier'), 'worker'], { env: { ...base, ...smtpEnv((hang.address() as { port: number }).port) }, stdio: ['ignore', 'ignore', 'ignore'] });
    const exited = new Promise((r) => child.once('exit', r));
    // Mid-job: the mail.send job is active and the worker is waiting on the silent server.
    for (;;) {
      const [j] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'mail.send' AND state = 'active'`).catch(() => [{ n: 0 }]);
      if (j!.n > 0 && sockets.size > 0) break;
      await sleep(100);
    }
    // While the worker lives its job is its own: nothing to take back.
    const app = await openApp({ env: base });
    try {
      expect(await recoverOrphanedJobs(app, {} as never)).toEqual([]);
    } finally {
      await app.close();
    }
    child.kill('SIGKILL');
    await exited;
    expect((await sql(`SELECT state FROM pgboss.job WHERE name = 'mail.send'`)).map((j) => j.state)).toEqual(['active']);

    const r = await dossier(['worker', '--until-idle'], { ...base, ...smtpEnv(smtp.port) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/1 job\(s\) of a worker that is gone taken back/);
    expect(smtp.received.map((m) => m.mail.subject)).toEqual([row!.subject]);
    expect((await sql<{ status: string }>(`SELECT status FROM outbox WHERE id = $1`, [row!.id]))[0]!.status).toBe('sent');
  });
});
