import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir, packageRoot } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { startDovecot, type TestDovecot } from '../helpers/dovecot.js';
import { staffNote as note } from '../helpers/mail.js';

// A worker killed with SIGKILL in the middle of a batch, then restarted: every message is journaled
// once, its effect applied once, and the IMAP folders agree with the journal.

const N = 40;
let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let dovecot: TestDovecot;
let deal: string;
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

beforeAll(async () => {
  db = await createTestDatabase();
  dovecot = await startDovecot();
  env = testEnv(db.url, await tempDir(), { DOSSIER_INTAKE__MAILBOXES: `[{name: decisions, host: 127.0.0.1, port: ${dovecot.port}, security: none, user: intake, password: secret}]` });
  deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref;
  const c = dovecot.client('intake');
  await c.connect();
  for (let i = 1; i <= N; i++) await c.append('INBOX', note(i));
  await c.logout();
});
afterAll(async () => {
  await dovecot.stop();
  await db.drop();
});

describe('a worker killed mid-batch', () => {
  it('is restarted and every message ends processed exactly once', async () => {
    const child = spawn(process.execPath, [path.join(packageRoot, 'bin', 'dossier'), 'worker', '--until-idle'], { env: env as NodeJS.ProcessEnv, stdio: 'ignore' });
    for (let i = 0; i < 400; i++) {
      const [row] = await sql<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages WHERE outcome IS NOT NULL');
      if (row!.n >= 5) break;
      await sleep(25);
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const [mid] = await sql<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages WHERE outcome IS NOT NULL');
    expect(mid!.n).toBeGreaterThanOrEqual(5);
    expect(mid!.n).toBeLessThan(N); // it really was killed in the middle

    const again = await dossier(['worker', '--until-idle'], env);
    expect(again.code).toBe(0);

    const journal = await sql<{ outcome: string; n: number }>('SELECT outcome, count(*)::int AS n FROM inbound_messages GROUP BY outcome');
    expect(journal).toEqual([{ outcome: 'applied', n: N }]);
    const docs = await sql<{ file_name: string; n: number }>(
      "SELECT a.file_name, count(*)::int AS n FROM attachments a JOIN records r ON r.id = a.record_id WHERE r.ref = $1 AND a.source = 'message' GROUP BY a.file_name",
      [deal],
    );
    expect(docs).toHaveLength(N);
    expect(docs.every((d) => d.n === 1)).toBe(true);
    const c = dovecot.client('intake');
    await c.connect();
    try {
      const inbox = await c.status('INBOX', { messages: true });
      const processed = await c.status('Dossier/Processed', { messages: true });
      expect(inbox && inbox.messages).toBe(0);
      expect(processed && processed.messages).toBe(N);
    } finally {
      await c.logout();
    }
  }, 120_000);
});
