import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir());
});
afterAll(() => db.drop());

describe('dossier demo', () => {
  it('tells the story and leaves a deal a user can inspect; running it twice works', async () => {
    const first = await dossier(['demo'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/1\. Imported the sample deal (DL-\d{4}-\d{5}): \d{3} values, parties client-smirnov, bank-sever, bank-volga, bank-meridian/);
    expect(first.stdout).toMatch(/loan_term_months\s+Срок кредита, мес\.\s+48\s+STALE override: base changed since; base: 72/);

    const second = await dossier(['demo', '--json'], env);
    expect(second.code).toBe(0);
    const ref = second.json().ref as string;
    const show = (await dossier(['record', 'show', ref, '--json'], env)).json();
    expect(show.record).toMatchObject({ status: 'collecting', schema_version: 2 });
    expect(show.attachments.map((a: { file_name: string }) => a.file_name)).toEqual(['passport-smirnov.pdf', 'passport-smirnov-p2.jpg', 'income-2ndfl-smirnov.pdf']);
    expect(show.parties).toHaveLength(4);
    const list = (await dossier(['record', 'list', '--type', 'deal', '--json'], env)).json();
    expect(list).toHaveLength(2);
  });
});
