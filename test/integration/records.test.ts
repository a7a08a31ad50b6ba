import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
const year = new Date().getFullYear();

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir());
});
afterAll(() => db.drop());

describe('records from the CLI', () => {
  it('creates a deal and a claim with yearly references, and shows them', async () => {
    const deal = await dossier(['record', 'create', 'deal', '--title', 'Автокредит Смирнов'], env);
    expect(deal.code).toBe(0);
    expect(deal.stdout).toBe(`DL-${year}-00001`);
    const claim = await dossier(['record', 'create', 'claim', '--json'], env);
    expect(claim.json()).toMatchObject({ ref: `CL-${year}-00001`, type: 'claim', status: 'reported', created_by: 'cli:tester' });

    const show = await dossier(['record', 'show', `dl-${year}-00001`], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`DL-${year}-00001  Автокредит Смирнов`);
    expect(show.stdout).toMatch(/status\s+new \(Новая\)/);

    const list = await dossier(['record', 'list', '--type', 'deal', '--json'], env);
    expect(list.json().map((r: { ref: string }) => r.ref)).toEqual([`DL-${year}-00001`]);
  });

  it('moves a record along allowed transitions and keeps the history', async () => {
    const ref = (await dossier(['record', 'create', 'deal'], env)).stdout;
    expect((await dossier(['record', 'status', ref, 'collecting'], env)).stdout).toBe(`${ref}: new → collecting`);
    expect((await dossier(['record', 'status', ref, 'submitted', '--reason', 'пакеты отправлены'], env)).code).toBe(0);

    const h = await dossier(['record', 'history', ref, '--json'], env);
    const events = h.json().events as { kind: string; actor: string; old_value: unknown; new_value: unknown; details: unknown }[];
    expect(events.map((e) => e.kind)).toEqual(['record_created', 'status_changed', 'status_changed']);
    expect(events[2]).toMatchObject({ actor: 'cli:tester', old_value: 'collecting', new_value: 'submitted', details: { reason: 'пакеты отправлены' } });

    const text = await dossier(['record', 'history', ref], env);
    expect(text.stdout.replace(/\n {20,}/g, ' ')).toContain('status collecting → submitted (reason: пакеты отправлены)'); // the wrapped column joined back

    const byStatus = await dossier(['record', 'list', '--status', 'submitted', '--json'], env);
    expect(byStatus.json().map((r: { ref: string }) => r.ref)).toContain(ref);
  });

  it('refuses a forbidden transition and says which are allowed', async () => {
    const ref = (await dossier(['record', 'create', 'deal'], env)).stdout;
    const r = await dossier(['record', 'status', ref, 'signed'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error TRANSITION_FORBIDDEN: ${ref} cannot go from "new" to "signed".`);
    expect(r.stderr).toContain('hint: From "new" it can go to: collecting, submitted, decided, closed.');
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace for a user mistake
    const show = await dossier(['record', 'show', ref, '--json'], env);
    expect(show.json().record.status).toBe('new');
  });

  it('refuses a final status being left, and an unknown status', async () => {
    const ref = (await dossier(['record', 'create', 'claim'], env)).stdout;
    expect((await dossier(['record', 'status', ref, 'closed'], env)).code).toBe(0);
    const again = await dossier(['record', 'status', ref, 'assessing'], env);
    expect(again.stderr).toContain('"closed" is final');
    const unknown = await dossier(['record', 'status', ref, 'paid'], env);
    expect(unknown.stderr).toContain('error STATUS_UNKNOWN: A claim has no status "paid".');
  });

  it('refuses an unknown type, an unknown ref and a malformed ref', async () => {
    const t = await dossier(['record', 'create', 'loan'], env);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain('error RECORD_TYPE_UNKNOWN: There is no record type "loan".');
    expect(t.stderr).toContain('Known types: deal, claim');

    const missing = await dossier(['record', 'show', `DL-${year}-09999`], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`error RECORD_NOT_FOUND: There is no record DL-${year}-09999.`);

    const bad = await dossier(['record', 'show', 'deal-42', '--json'], env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr).error).toMatchObject({ code: 'REF_INVALID' });

    const status = await dossier(['record', 'list', '--status', 'nonsense'], env);
    expect(status.stderr).toContain('STATUS_UNKNOWN');
  });

  it('reports wrong usage without touching the database', async () => {
    const r = await dossier(['record', 'create'], { PATH: process.env.PATH, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("missing required argument 'type'");
  });

  it('says clearly when the database cannot be reached', async () => {
    const r = await dossier(['record', 'list'], { PATH: process.env.PATH, DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none', DOSSIER_HOME: env.DOSSIER_HOME });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error DB_UNAVAILABLE: Cannot use the database at postgres://nobody:***@127.0.0.1:1/none');
    expect(r.stderr).not.toContain('secret');
  });
});
