import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { fixtureWorld, type FixtureWorld } from '../helpers/fixture-world.js';

// Every message in fixtures/mail/ (real clients' output: forwards, charsets, spoofs, auto-replies,
// bounces, hostile attachments) through `dossier mail ingest`, checked against expected.yaml.

interface Expected {
  file: string;
  needs: string[];
  outcome: string;
  reason: string;
  record: 'deal' | 'claim' | 'none';
  decision?: { party: string; decision: string; amount?: string };
  attachments?: number;
  description: string;
}

const SECRET = 'fixture-token-secret-0123456789abcdef';
const dir = path.join(fixturesDir, 'mail');
let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let work: string;
const refs: Record<string, string> = {};
let world: FixtureWorld;
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);
const expected = YAML.parse(await readFile(path.join(dir, 'expected.yaml'), 'utf8')) as Expected[];

const fill = (text: string) => world.fill(text);

beforeAll(async () => {
  db = await createTestDatabase();
  work = await tempDir();
  env = testEnv(db.url, await tempDir(), { DOSSIER_MAIL__TOKEN_SECRET: SECRET });
  world = await fixtureWorld(db, env, SECRET);
  refs.deal = world.deal;
  refs.claim = world.claim;
});
afterAll(() => db.drop());

describe('fixtures/mail', () => {
  it('has at least 40 messages, each described', () => {
    expect(expected.length).toBeGreaterThanOrEqual(40);
  });

  it.each(expected.map((e) => [e.file, e] as const))('%s', async (_file, e) => {
    const raw = await readFile(path.join(dir, e.file), 'latin1');
    const file = path.join(work, e.file);
    await writeFile(file, Buffer.from(e.needs.length ? await fill(raw) : raw, 'latin1'));
    const r = await dossier(['mail', 'ingest', file, '--json'], env);
    expect(r.stderr).toBe('');
    const [got] = r.json() as { id: number; outcome: string; reason: string; ref: string | null }[];
    expect({ outcome: got!.outcome, reason: got!.reason.toLowerCase().includes(e.reason.toLowerCase()) ? e.reason : got!.reason }).toEqual({ outcome: e.outcome, reason: e.reason });
    const [row] = await sql<{ record_id: number | null; ref: string | null }>('SELECT m.record_id, r.ref FROM inbound_messages m LEFT JOIN records r ON r.id = m.record_id WHERE m.id = $1', [got!.id]);
    if (e.record !== 'none' && e.outcome !== 'quarantined') expect(row!.ref).toBe(refs[e.record]);
    if (e.decision) {
      const view = (await dossier(['field', 'show', refs[e.record]!, '--recipient', e.decision.party, '--json'], env)).json() as { values: { field: string; value: unknown; origin: string | null }[] };
      const v = Object.fromEntries(view.values.map((x) => [x.field, x.value]));
      expect(v.decision).toBe(e.decision.decision);
      if (e.decision.amount) expect(v.decision_amount).toBe(e.decision.amount);
    }
    if (e.attachments !== undefined) {
      const [n] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM attachments WHERE created_by = $1 AND category <> 'correspondence'", [`message:${got!.id}`]);
      expect(n!.n).toBe(e.attachments);
    }
  });

  it('never stored an attachment under a path or with control characters in its name', async () => {
    const names = await sql<{ file_name: string }>("SELECT file_name FROM attachments WHERE source = 'message'");
    for (const { file_name } of names) {
      expect(file_name).not.toMatch(/[\/\\]|^\.|[\u0000-\u001f\u007f]/); // no separators, no hidden or control names
    }
    expect(names.map((n) => n.file_name)).toEqual(expect.arrayContaining([expect.stringMatching(/Доверенность \(2\)\.pdf/)]));
  });

  it('quarantines a bounce report that names someone our message was not sent to, and leaves the message alone', async () => {
    const sent = await dossier(['pack', 'send', refs.deal!, '--recipient', 'bank-meridian', '--json'], env);
    const outboxId = (sent.json() as { outbox: number }[])[0]!.outbox;
    // The bank received our message, so it knows its Message-ID: a forged report says it "bounced".
    const raw = (await fill(await readFile(path.join(dir, '30-dsn-bounce-meridian.eml'), 'latin1'))).replace(/partners@meridian-bank\.example/g, 'ceo@elsewhere.example');
    const file = path.join(work, 'forged-bounce.eml');
    await writeFile(file, Buffer.from(raw, 'latin1'));
    const [got] = (await dossier(['mail', 'ingest', file, '--json'], env)).json() as { outcome: string; reason: string }[];
    expect(got).toEqual(expect.objectContaining({ outcome: 'quarantined', reason: `bounce report for outbox #${outboxId} names ceo@elsewhere.example, to whom that message was not sent` }));
    const [row] = await sql<{ status: string }>('SELECT status FROM outbox WHERE id = $1', [outboxId]);
    expect(row!.status).toBe('queued');
  });
});
