import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await tempDir();
  env = testEnv(db.url, dir);
});
afterAll(() => db.drop());

async function csv(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

describe('parties', () => {
  it('adds a party with several addresses and lists it', async () => {
    const r = await dossier(['party', 'add', 'bank-sever', '--kind', 'bank', '--name', 'АО «Банк Северный»', '--email', 'Credit@Bank-Sever.example', '--email', 'decisions@bank-sever.example', '--phone', '+7 495 000-00-01'], env);
    expect(r.code).toBe(0);
    const list = await dossier(['party', 'list', '--kind', 'bank', '--json'], env);
    expect(list.json()).toEqual([
      expect.objectContaining({ key: 'bank-sever', kind: 'bank', name: 'АО «Банк Северный»', emails: ['credit@bank-sever.example', 'decisions@bank-sever.example'], phone: '+7 495 000-00-01' }),
    ]);
    const text = await dossier(['party', 'list'], env);
    expect(text.stdout).toMatch(/bank-sever\s+bank\s+\+7 495 000-00-01\s+АО «Банк Северный»/);
  });

  it('refuses a duplicate key, an unknown kind and a bad address', async () => {
    const dup = await dossier(['party', 'add', 'bank-sever', '--kind', 'bank', '--name', 'Другой'], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('error PARTY_EXISTS: A party with the key "bank-sever" already exists.');
    const bad = await dossier(['party', 'add', 'Bad Key', '--kind', 'spaceship', '--name', 'X', '--email', 'not-an-address'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('key "Bad Key" must be lower-case');
    expect(bad.stderr).toContain('kind "spaceship" is not one of: client, bank, insurer');
    expect(bad.stderr).toContain('"not-an-address" is not an email address');
  });

  it('imports a semicolon CSV as Excel writes it (BOM, Russian names, several addresses)', async () => {
    const file = await csv('ok.csv', '\uFEFFkey;kind;name;emails;phone\r\ninsurer-garant;insurer;САО «Гарант»;kasko@garant.example, claims@garant.example;+7 495 222-33-44\r\nlawyer-orlova;lawyer;Орлова М. С.;m.orlova@advokat.example;\r\n');
    const r = await dossier(['party', 'import', file], env);
    expect(r.stdout).toBe('Imported 2 new parties, updated 0.');
    const list = (await dossier(['party', 'list', '--json'], env)).json() as { key: string; emails: string[] }[];
    expect(list.find((p) => p.key === 'insurer-garant')?.emails).toEqual(['kasko@garant.example', 'claims@garant.example']);
  });

  it('reports a malformed row with its line number and imports nothing', async () => {
    const file = await csv('bad.csv', 'key,kind,name,emails\nbroker-a,broker,Брокер А,a@broker.example\nbroker-b,astronaut,Брокер Б,b@broker.example\nbroker-c,broker,,c@broker\nbroker-a,broker,Брокер А2,\n');
    const r = await dossier(['party', 'import', file], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error CSV_INVALID');
    expect(r.stderr).toContain('line 3: kind "astronaut" is not one of');
    expect(r.stderr).toContain('line 4: name is empty');
    expect(r.stderr).toContain('line 4: "c@broker" is not an email address');
    expect(r.stderr).toContain('line 5: key "broker-a" is already used on line 2');
    expect(r.stderr).toContain('Nothing was imported');
    const list = (await dossier(['party', 'list', '--kind', 'broker', '--json'], env)).json();
    expect(list).toEqual([]);
  });

  it('reports broken CSV syntax with its line and imports nothing', async () => {
    const file = await csv('quotes.csv', 'key,kind,name\nworkshop-a,workshop,"СТО ""Мотор""\nworkshop-b,workshop,СТО Б\n');
    const r = await dossier(['party', 'import', file], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error CSV_INVALID: .*quotes\.csv line \d+/);
    expect((await dossier(['party', 'list', '--kind', 'workshop', '--json'], env)).json()).toEqual([]);
  });

  it('refuses to overwrite existing parties unless --update, and audits what --update changed', async () => {
    const file = await csv('update.csv', 'key,kind,name,emails\nlessor-a,lessor,Лизинг А,a@lease.example\nbank-sever,bank,АО «Банк Северный»,credit@bank-sever.example\n');
    const r = await dossier(['party', 'import', file], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('line 3: a party with the key "bank-sever" already exists');
    expect((await dossier(['party', 'list', '--kind', 'lessor', '--json'], env)).json()).toEqual([]);

    const u = await dossier(['party', 'import', file, '--update', '--json'], env);
    expect(u.code).toBe(0);
    expect(u.json().added.map((p: { key: string }) => p.key)).toEqual(['lessor-a']);
    expect(u.json().updated[0]).toMatchObject({ key: 'bank-sever', emails: ['credit@bank-sever.example'] });
  });

  it('links parties to a record with a role, once', async () => {
    const ref = (await dossier(['record', 'create', 'claim'], env)).stdout;
    expect((await dossier(['record', 'link', ref, 'insurer-garant', '--role', 'recipient'], env)).stdout).toBe(`${ref}: insurer-garant linked as recipient`);
    expect((await dossier(['record', 'link', ref, 'insurer-garant', '--role', 'recipient'], env)).stdout).toBe(`${ref}: insurer-garant was already linked as recipient`);
    expect((await dossier(['record', 'link', ref, 'lawyer-orlova', '--role', 'lawyer'], env)).code).toBe(0);
    const show = (await dossier(['record', 'show', ref, '--json'], env)).json();
    expect(show.parties.map((p: { key: string; role: string }) => `${p.key}/${p.role}`)).toEqual(['insurer-garant/recipient', 'lawyer-orlova/lawyer']);
    const h = (await dossier(['record', 'history', ref], env)).stdout.replace(/\n {20,}/g, ' '); // the wrapped column joined back
    expect(h).toContain('party lawyer-orlova linked as lawyer');

    const role = await dossier(['record', 'link', ref, 'insurer-garant', '--role', 'boss'], env);
    expect(role.stderr).toContain('error ROLE_UNKNOWN: "boss" is not a role.');
    const party = await dossier(['record', 'link', ref, 'nobody-here', '--role', 'participant'], env);
    expect(party.stderr).toContain('error PARTY_NOT_FOUND: There is no party "nobody-here".');
  });
});
