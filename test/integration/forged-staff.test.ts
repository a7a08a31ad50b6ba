import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { AR_PASS, forwardWithHeaders as forward, STAFF_HEADER_FORGERIES } from '../helpers/mail.js';

// The forged staff decisions of issue 13 through the real intake (`mail ingest`, real PostgreSQL),
// in mode mta with the test world's MTA mx.dossier.example — the mode that reads headers, so the
// one these attacks were made for. Before this change 6 of them were applied. Each must be
// refused, the deal left as it was, and no decision recorded; the genuine message, sent last,
// shows the same path does apply a decision when the MTA vouches for it.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let deal: string;
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

const RECEIVED = 'Received: from mail.dossier.example (mail.dossier.example [10.0.0.5]) by mx.dossier.example with ESMTPS; Mon, 16 Nov 2026 10:15:03 +0300';



async function ingest(raw: Buffer, name: string) {
  const file = path.join(await tempDir(), name);
  await import('node:fs/promises').then((fs) => fs.writeFile(file, raw));
  const r = await dossier(['mail', 'ingest', file, '--json'], env);
  expect(r.stderr).toBe('');
  return r.json()[0] as { id: number; outcome: string; reason: string };
}

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir(), { DOSSIER_MAIL__TOKEN_SECRET: 'forged-staff-secret-0123456789' });
  deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref;
  await dossier(['record', 'status', deal, 'submitted'], env);
});
afterAll(async () => {
  await db?.drop();
});

describe('forged staff decisions through the intake', () => {
  it.each(STAFF_HEADER_FORGERIES.map(([what, edit], i) => [what, edit, i] as const))('refuses %s', async (_what, edit, i) => {
    const r = await ingest(forward(`forged-${i}`, edit), `forged-${i}.eml`);
    expect(r.outcome).not.toBe('applied');
    expect(r.outcome).toBe('quarantined');
    const [rec] = await sql<{ status: string }>('SELECT status FROM records WHERE ref = $1', [deal]);
    expect(rec!.status).toBe('submitted');
    expect(await sql(`SELECT 1 FROM events e JOIN records r ON r.id = e.record_id WHERE r.ref = $1 AND e.field = 'decision'`, [deal])).toEqual([]);
  });

  it('applies the genuine message: our MTA\'s pass above its Received, one From', async () => {
    const r = await ingest(forward('genuine-1', (h) => [AR_PASS, RECEIVED, ...h]), 'genuine.eml');
    expect(r.outcome, r.reason).toBe('applied');
    const [rec] = await sql<{ status: string }>('SELECT status FROM records WHERE ref = $1', [deal]);
    expect(rec!.status).toBe('decided');
    // The same query the refusals were checked with finds this decision (so it could have found theirs).
    expect(await sql(`SELECT 1 FROM events e JOIN records r ON r.id = e.record_id WHERE r.ref = $1 AND e.field = 'decision'`, [deal])).toHaveLength(1);
  });
});
