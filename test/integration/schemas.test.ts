import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldSchemasDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

// Schema files, versions and publishing, against a copy of field-schemas/ that the tests may edit.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = path.join(await tempDir(), 'schemas');
  await cp(fieldSchemasDir, dir, { recursive: true });
  env = testEnv(db.url, await tempDir(), { DOSSIER_SCHEMAS__DIR: dir });
});
afterAll(() => db.drop());

const v3 = (extra: string) => `type: deal
version: 3
title: { ru: Кредитная сделка, en: Credit deal }
sections:
  - id: misc
    label: { ru: Прочее, en: Misc }
    fields:
${extra}`;

async function schemaProblems(files: Record<string, string>): Promise<string> {
  const d = path.join(await tempDir(), 'schemas');
  await cp(fieldSchemasDir, d, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(d, name), text);
  const db2 = await createTestDatabase();
  try {
    const r = await dossier(['schema', 'validate', '--type', 'deal'], testEnv(db2.url, await tempDir(), { DOSSIER_SCHEMAS__DIR: d }));
    expect(r.code).toBe(1);
    return r.stderr;
  } finally {
    await db2.drop();
  }
}

describe('schema files', () => {
  it('validates the shipped schemas and lists the published versions', async () => {
    const v = await dossier(['schema', 'validate'], env);
    expect(v.stdout).toBe('OK: 3 schema file(s), no problems.');
    const list = (await dossier(['schema', 'list', '--json'], env)).json() as { type: string; version: number; live: number; retired: number; published: unknown }[];
    expect(list.map((x) => `${x.type} v${x.version}`)).toEqual(['claim v1', 'deal v1', 'deal v2']);
    expect(list.every((x) => x.published)).toBe(true);
    const deal2 = list.find((x) => x.type === 'deal' && x.version === 2)!;
    expect(deal2.live).toBeGreaterThanOrEqual(300);
    expect(deal2.retired).toBeGreaterThan(0);
  });

  it('shows a version with its sections and retired fields', async () => {
    const s = await dossier(['schema', 'show', 'deal', 'v2'], env);
    expect(s.stdout).toMatch(/^deal v2 — Кредитная сделка \/ Credit deal/);
    expect(s.stdout).toMatch(/borrower_fax\s+phone\s+.*RETIRED/);
    expect(s.stdout).toMatch(/decision\s+enum\(approved\|declined\|more_info\)/);
  });

  it('reports a duplicate id with both lines', async () => {
    const err = await schemaProblems({
      'deal/v3.yaml': v3(`      - { id: x_one, type: text, label: { ru: Один, en: One } }
      - { id: x_one, type: text, label: { ru: Два, en: Two } }
`),
    });
    expect(err).toMatch(/deal\/v3\.yaml:9 \[x_one\]: field id "x_one" is used twice in this version \(also on line 8\)/);
  });

  it('reports an unknown type and a label without English', async () => {
    const err = await schemaProblems({ 'deal/v3.yaml': v3(`      - { id: x_colour, type: colour, label: { ru: Цвет } }\n`) });
    expect(err).toMatch(/v3\.yaml:8 \[x_colour\]: unknown type "colour" \(types: text, number, money/);
    expect(err).toMatch(/v3\.yaml:8 \[x_colour\]: label needs both ru and en text/);
  });

  it('reports bad YAML with its line', async () => {
    const err = await schemaProblems({ 'deal/v3.yaml': 'type: deal\nversion: 3\nsections:\n  - id: [unclosed\n' });
    expect(err).toMatch(/v3\.yaml:\d+: YAML: /);
  });

  it('refuses a field deleted instead of retired, and a retired id brought back', async () => {
    // v3 keeps only two of v2's fields: every other v2 field is reported as deleted; borrower_fax
    // (retired in v2) comes back live.
    const err = await schemaProblems({
      'deal/v3.yaml': v3(`      - { id: borrower_last_name, type: text, label: { ru: Фамилия, en: Last name } }
      - { id: borrower_fax, type: phone, label: { ru: Факс, en: Fax } }
`),
    });
    expect(err).toMatch(/v3\.yaml:1 \[loan_amount\]: field "loan_amount" of v2 is missing: never delete a field, mark it retired: true/);
    expect(err).toMatch(/v3\.yaml:9 \[borrower_fax\]: field "borrower_fax" was retired in v2 and cannot come back/);
  });

  it('refuses a type change that would make old values unreadable', async () => {
    const v2 = await readFile(path.join(fieldSchemasDir, 'deal', 'v2.yaml'), 'utf8');
    const v3text = v2.replace('version: 2', 'version: 3').replace(/(- id: has_criminal_record\n\s+type: )boolean/, '$1date');
    expect(v3text).not.toBe(v2.replace('version: 2', 'version: 3'));
    const err = await schemaProblems({ 'deal/v3.yaml': v3text });
    expect(err).toMatch(/\[has_criminal_record\]: type changed from boolean \(v2\) to date: existing values would not read/);
  });
});

describe('admins editing a draft', () => {
  it('schema diff against a version not yet published compares by meaning: a plain copy has no changes', async () => {
    const d = path.join(await tempDir(), 'schemas');
    await cp(fieldSchemasDir, d, { recursive: true });
    const v2 = await readFile(path.join(d, 'deal', 'v2.yaml'), 'utf8');
    await writeFile(path.join(d, 'deal', 'v3.yaml'), v2.replace('version: 2', 'version: 3'));
    const db2 = await createTestDatabase();
    try {
      const e = testEnv(db2.url, await tempDir(), { DOSSIER_SCHEMAS__DIR: d });
      // v2 comes from the database (jsonb, keys reordered), v3 from its YAML file.
      const same = await dossier(['schema', 'diff', 'deal', 'v2', 'v3', '--json'], e);
      expect(same.code).toBe(0);
      expect(same.json()).toMatchObject({ from: 2, to: 3, added: [], retired: [], changed: [] });
      expect((await dossier(['schema', 'diff', 'deal', 'v2', 'v3'], e)).stdout).toMatch(/^deal v2 → v3: 0 added, 0 retired, 0 changed/);

      // One real change of each kind is reported once.
      await writeFile(
        path.join(d, 'deal', 'v3.yaml'),
        v2.replace('version: 2', 'version: 3').replace('Сумма кредита', 'Сумма кредита в рублях').replace(/(- id: has_criminal_record\n(\s+)type: boolean)/, '$1\n$2required: true'),
      );
      const diff = (await dossier(['schema', 'diff', 'deal', 'v2', 'v3', '--json'], e)).json() as { changed: { id: string; what: string[] }[] };
      expect(diff.changed.map((c) => c.id).sort()).toEqual(['has_criminal_record', 'loan_amount']);
      expect(diff.changed.find((c) => c.id === 'loan_amount')!.what).toEqual(['label «Сумма кредита» → «Сумма кредита в рублях»']);
      expect(diff.changed.find((c) => c.id === 'has_criminal_record')!.what).toEqual(['now required']);
    } finally {
      await db2.drop();
    }
  });

  it("schema validate reports every problem: all of a field's, past a bad or repeated id, and those between versions", async () => {
    const err = await schemaProblems({
      'deal/v3.yaml': v3(`      - { id: Bad-Id, type: colour, label: { ru: Плохо }, colour: red }
      - { id: x_one, type: text, label: { ru: Один, en: One } }
      - { id: x_one, type: money, label: { ru: Два }, validation: { pattern: "[" } }
`),
    });
    // The field with the bad id: its id, its type, its label and its unknown key.
    expect(err).toMatch(/v3\.yaml:8 \[Bad-Id\]: field id "Bad-Id" must be lower-case/);
    expect(err).toMatch(/v3\.yaml:8 \[Bad-Id\]: unknown type "colour"/);
    expect(err).toMatch(/v3\.yaml:8 \[Bad-Id\]: label needs both ru and en text/);
    expect(err).toMatch(/\[Bad-Id\]: unknown key "colour"/);
    // The repeated id: that, and its own problems.
    expect(err).toMatch(/v3\.yaml:10 \[x_one\]: field id "x_one" is used twice/);
    expect(err).toMatch(/v3\.yaml:10 \[x_one\]: label needs both ru and en text/);
    expect(err).toMatch(/\[x_one\]: pattern applies only to text, email and phone fields, not to money/);
    // And, though the file has problems of its own, the rules between versions still run on it.
    expect(err).toMatch(/v3\.yaml:1 \[loan_amount\]: field "loan_amount" of v2 is missing/);
  });
});

describe('publishing', () => {
  it('publishes a new version; new records use it; its file can no longer change', async () => {
    const v2 = await readFile(path.join(dir, 'deal', 'v2.yaml'), 'utf8');
    const file = path.join(dir, 'deal', 'v3.yaml');
    await writeFile(file, v2.replace('version: 2', 'version: 3').replace(/(\nsections:\n)/, `$1  - id: extra\n    label: { ru: Дополнительно, en: Extra }\n    fields:\n      - { id: referral_source, type: text, label: { ru: Источник обращения, en: Referral source } }\n`));
    expect((await dossier(['schema', 'list', '--type', 'deal'], env)).stdout).toMatch(/deal\s+v3\s+\d+\s+\d+\s+draft \(not published\)/);
    const before = (await dossier(['record', 'create', 'deal', '--json'], env)).json();
    expect(before.schema_version).toBe(2);

    const p = await dossier(['schema', 'publish', 'deal', 'v3'], env);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^Published deal v3 \(sha256 [0-9a-f]{12}\)/);
    expect(await readFile(path.join(dir, 'published.yaml'), 'utf8')).toMatch(/v3: [0-9a-f]{64}/);
    expect((await dossier(['record', 'create', 'deal', '--json'], env)).json().schema_version).toBe(3);
    expect((await dossier(['schema', 'publish', 'deal', 'v3'], env)).stdout).toContain('was already published');

    await writeFile(file, (await readFile(file, 'utf8')).replace('Источник обращения', 'Откуда узнали'));
    const used = await dossier(['schema', 'show', 'deal', 'v3'], env);
    expect(used.code).toBe(2);
    expect(used.stderr).toContain('error SCHEMA_PUBLISHED_CHANGED');
    expect(used.stderr).toContain('put the change in v4.yaml');
    const validate = await dossier(['schema', 'validate', '--type', 'deal'], env);
    expect(validate.stderr).toMatch(/deal\/v3\.yaml:1: changed after deal v3 was published: restore it and make v4 instead/);
    const republish = await dossier(['schema', 'publish', 'deal', 'v3'], env);
    expect(republish.code).not.toBe(0);
    await writeFile(file, (await readFile(file, 'utf8')).replace('Откуда узнали', 'Источник обращения'));
    expect((await dossier(['schema', 'show', 'deal', 'v3'], env)).code).toBe(0);
  });

  it('refuses to publish an invalid version, naming its problems', async () => {
    await writeFile(path.join(dir, 'claim', 'v2.yaml'), 'type: claim\nversion: 2\ntitle: { ru: Убыток, en: Claim }\nsections: []\n');
    const r = await dossier(['schema', 'publish', 'claim', 'v2'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error SCHEMA_INVALID: claim v2 cannot be published');
    expect(r.stderr).toMatch(/claim\/v2\.yaml:4: sections must be a non-empty list/);
  });
});
