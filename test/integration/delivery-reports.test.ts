import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { fixtureWorld, type FixtureWorld } from '../helpers/fixture-world.js';

// Delivery reports (RFC 3464) through the real intake and database (issue 14): a delay is noted on
// our outbox row, a success marks it delivered, only a failure marks it bounced. Before, any report
// about our message marked it bounced. The reports are Postfix's own (fixtures/mail/30-…), with the
// per-recipient Action and Status as Postfix writes them for a delay and for a success (NOTIFY=SUCCESS).

const SECRET = 'delivery-token-secret-0123456789abcdef';
let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let world: FixtureWorld;
let work: string;
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

beforeAll(async () => {
  db = await createTestDatabase();
  work = await tempDir();
  env = testEnv(db.url, await tempDir(), { DOSSIER_MAIL__TOKEN_SECRET: SECRET });
  world = await fixtureWorld(db, env, SECRET);
}, 180_000);
afterAll(() => db.drop());

/** Postfix's report about our package to Meridian, as a delay, a success or the failure it is. */
async function report(kind: 'delayed' | 'delivered' | 'failed'): Promise<string> {
  let raw = await world.fill(await readFile(path.join(fixturesDir, 'mail', '30-dsn-bounce-meridian.eml'), 'latin1'));
  // Each report is a message of its own (intake takes one Message-ID from one sender once).
  raw = raw.replace('<20261119101512.9C1D4E0A22@mx.dossier.example>', `<20261119101512.${kind}@mx.dossier.example>`);
  if (kind === 'delayed') {
    raw = raw
      .replace('Subject: Undelivered Mail Returned to Sender', 'Subject: Delayed Mail (still being retried)')
      .replace('Action: failed\r\nStatus: 5.1.1', 'Action: delayed\r\nStatus: 4.4.1')
      .replace('Diagnostic-Code: smtp; 550 5.1.1 user unknown', 'Diagnostic-Code: X-Postfix; connect to mx1.meridian-bank.example[203.0.113.25]:25: Connection timed out');
  } else if (kind === 'delivered') {
    raw = raw
      .replace('Subject: Undelivered Mail Returned to Sender', 'Subject: Successful Mail Delivery Report')
      .replace('Action: failed\r\nStatus: 5.1.1', 'Action: delivered\r\nStatus: 2.0.0')
      .replace('Diagnostic-Code: smtp; 550 5.1.1 user unknown', 'Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as 4Bk2xQ');
  }
  return raw;
}

async function ingest(kind: 'delayed' | 'delivered' | 'failed') {
  const file = path.join(work, `${kind}.eml`);
  await writeFile(file, Buffer.from(await report(kind), 'latin1'));
  const r = await dossier(['mail', 'ingest', file, '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return r.json()[0] as { outcome: string; reason: string };
}

const row = async () =>
  (await sql<{ status: string; delayed_at: Date | null; delivered_at: Date | null; delivery_note: string | null }>(
    "SELECT o.status, o.delayed_at, o.delivered_at, o.delivery_note FROM outbox o JOIN parties p ON p.id = o.party_id WHERE p.key = 'bank-meridian' ORDER BY o.id DESC LIMIT 1",
  ))[0]!;

describe('delivery reports about our package email', () => {
  it('a delay is noted and the message is not bounced', async () => {
    const before = (await row()).status;
    const r = await ingest('delayed');
    expect(r.outcome).toBe('applied');
    const o = await row();
    expect(o.status).toBe(before);
    expect(o.delayed_at).not.toBeNull();
    expect(o.delivery_note).toContain('4.4.1');
  });

  it('a success marks it delivered', async () => {
    expect((await ingest('delivered')).outcome).toBe('applied');
    const o = await row();
    expect(o.status).toBe('delivered');
    expect(o.delivered_at).not.toBeNull();
    // `outbox list` says so too.
    const list = await dossier(['outbox', 'list', '--ref', world.deal, '--json'], env);
    expect((list.json() as { status: string; to_addresses: string[] }[]).find((m) => m.to_addresses.join().includes('meridian'))?.status).toBe('delivered');
  });

  it('only a failure marks it bounced, with the specific status', async () => {
    expect((await ingest('failed')).outcome).toBe('applied');
    const o = await row();
    expect(o.status).toBe('bounced');
  });
});
