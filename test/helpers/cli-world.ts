import type pg from 'pg';
import { dossier } from './cli.js';
import { sqlRows, type TestDatabase } from './db.js';

// What the CLI-driven integration tests (checklists, approvals, deadlines, evidence) share: SQL on
// the test's database, a `dossier` command that must succeed, and the worker's passes until the
// outbox is empty. `world` is read at call time: the tests set their database and env in beforeAll.

export function cliWorld(world: () => { db: TestDatabase; env: NodeJS.ProcessEnv }) {
  const sql = <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => sqlRows<T>(world().db, text, params);
  /** Runs `dossier <args>`; a non-zero exit fails the test with the command and its stderr. */
  const run = async (...args: string[]) => {
    const r = await dossier(args, world().env);
    if (r.code !== 0) throw new Error(`dossier ${args.join(' ')} → ${r.code}\n${r.stderr}`);
    return r;
  };
  /** Sends what is queued through the SMTP server (the worker's own passes). */
  const deliverAll = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) {
      await run('worker', '--until-idle');
      const [left] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE status IN ('queued', 'sending')");
      if (!left!.n) return;
    }
    throw new Error('the outbox did not empty');
  };
  return { sql, run, deliverAll };
}

/** An RFC 2047 encoded word, as mail clients write a non-ASCII subject. */
export const b64 = (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;
