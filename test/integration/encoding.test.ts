import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

// CSV as Excel in a Russian locale saves it ("CSV (разделители — точки с запятой)"): windows-1251,
// no BOM. Each import must read the Cyrillic right and say which encoding it assumed.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let dir: string;
let deal: string;

/** Text as windows-1251 bytes: А–я are 0xC0–0xFF, Ё 0xA8, ё 0xB8, № 0xB9; ASCII as is. */
function cp1251(text: string): Buffer {
  return Buffer.from(
    [...text].map((ch) => {
      const c = ch.codePointAt(0)!;
      if (c < 0x80) return c;
      if (c >= 0x410 && c <= 0x44f) return c - 0x410 + 0xc0;
      if (c === 0x401) return 0xa8;
      if (c === 0x451) return 0xb8;
      if (c === 0x2116) return 0xb9;
      throw new Error(`no windows-1251 byte for ${ch} in this test helper`);
    }),
  );
}

async function file(name: string, bytes: Buffer | string): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, bytes);
  return f;
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await tempDir();
  env = testEnv(db.url, dir);
  deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref;
});
afterAll(() => db.drop());

describe('CSV from Russian Excel (windows-1251)', () => {
  it('party import reads the names right and says it assumed windows-1251', async () => {
    const f = await file('parties-1251.csv', cp1251('key;kind;name;emails;phone\nbank-yug;bank;Банк Южный, отделение № 5;credit@bank-yug.example;\nivanov;client;Иванов Пётр Семёнович;;+7 900 000-00-00\n'));
    const r = await dossier(['party', 'import', f], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('parties-1251.csv: read as windows-1251 (not UTF-8; its letters read as Cyrillic in windows-1251)');
    const parties = (await dossier(['party', 'list', '--json'], env)).json() as { key: string; name: string }[];
    expect(parties.find((p) => p.key === 'ivanov')?.name).toBe('Иванов Пётр Семёнович');
    expect(parties.find((p) => p.key === 'bank-yug')?.name).toBe('Банк Южный, отделение № 5');
  });

  it('record import and field import read windows-1251 values and headers', async () => {
    const rec = await file('deals-1251.csv', cp1251('Название;Фамилия;Имя\nСделка Ёлкина;Ёлкин;Семён\n'));
    const r = await dossier(['record', 'import', 'deal', rec, '--json'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('deals-1251.csv: read as windows-1251');
    const ref = r.json()[0].ref as string;
    const show = (await dossier(['record', 'show', ref, '--json'], env)).json();
    expect(show.title ?? show.record?.title).toBe('Сделка Ёлкина');
    const values = (await dossier(['field', 'show', ref, '--json'], env)).json().values as { field: string; value: unknown }[];
    expect(values.find((v) => v.field === 'borrower_last_name')?.value).toBe('Ёлкин');
    expect(values.find((v) => v.field === 'borrower_first_name')?.value).toBe('Семён');

    const vals = await file('values-1251.csv', cp1251('Фамилия;Отчество\nЖуравлёв;Фёдорович\n'));
    const f = await dossier(['field', 'import', deal, vals], env);
    expect(f.code).toBe(0);
    expect(f.stderr).toContain('values-1251.csv: read as windows-1251');
    const after = (await dossier(['field', 'show', deal, '--json'], env)).json().values as { field: string; value: unknown }[];
    expect(after.find((v) => v.field === 'borrower_last_name')?.value).toBe('Журавлёв');
  });

  it('UTF-8 (with or without BOM) is read as such, silently', async () => {
    const withBom = await file('utf8-bom.csv', '\uFEFFkey;kind;name\nbank-zapad;bank;Банк Западный\n');
    const r = await dossier(['party', 'import', withBom], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const plain = await file('utf8.csv', 'key;kind;name\nbank-vostok;bank;Банк Восточный\n');
    expect((await dossier(['party', 'import', plain], env)).stderr).toBe('');
    const parties = (await dossier(['party', 'list', '--json'], env)).json() as { key: string; name: string }[];
    expect(parties.find((p) => p.key === 'bank-vostok')?.name).toBe('Банк Восточный');
  });

  it('--encoding overrides the guess; bytes that are neither UTF-8 nor Cyrillic are refused, nothing imported', async () => {
    // KOI8-R "Банк" is 0xE2 0xC1 0xCE 0xCB: valid windows-1251 too, but as windows-1251 it reads as
    // capitals only ("вБОЛ"-like), which the Cyrillic check does not accept as Russian text.
    const koi = Buffer.concat([Buffer.from('key;kind;name\nbank-koi;bank;'), Buffer.from([0xe2, 0xc1, 0xce, 0xcb]), Buffer.from('\n')]);
    const f = await file('koi8.csv', koi);
    const refused = await dossier(['party', 'import', f], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error IMPORT_ENCODING: ' + f + ' is neither UTF-8 nor Russian text in windows-1251');
    expect(refused.stderr).toContain('--encoding');
    expect(((await dossier(['party', 'list', '--json'], env)).json() as { key: string }[]).some((p) => p.key === 'bank-koi')).toBe(false);

    const ok = await dossier(['party', 'import', f, '--encoding', 'koi8-r'], env);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain('koi8.csv: read as koi8-r (--encoding)');
    expect(((await dossier(['party', 'list', '--json'], env)).json() as { key: string; name: string }[]).find((p) => p.key === 'bank-koi')?.name).toBe('Банк');

    const unknown = await dossier(['party', 'import', f, '--encoding', 'klingon'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('--encoding klingon is not an encoding this program knows');
  });
});
