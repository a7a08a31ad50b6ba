import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let work: string;
let original: string;

async function baseValues(ref: string): Promise<Record<string, unknown>> {
  const r = await dossier(['field', 'show', ref, '--json'], env);
  return Object.fromEntries((r.json().values as { field: string; value: unknown }[]).map((v) => [v.field, v.value]));
}

/** Every record of the type, oldest first (record list pages newest first). */
async function refs(type: string): Promise<string[]> {
  return ((await dossier(['record', 'list', '--type', type, '--limit', '10000', '--json'], env)).json() as { ref: string }[]).map((r) => r.ref).reverse();
}

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir());
  work = await tempDir();
  original = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref;
});
afterAll(() => db.drop());

describe('export and import of many fields', () => {
  it('round-trips a 300+-field deal through XLSX: every base value comes back the same', async () => {
    const file = path.join(work, 'deals.xlsx');
    const e = await dossier(['export', 'deal', '--format', 'xlsx', '-o', file, '--json'], env);
    expect(e.json()).toMatchObject({ records: 1 });
    expect(e.json().fields).toBeGreaterThanOrEqual(300);

    // What a person opening the file sees: ids in the header, labels in the notes, a real date cell.
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const ws = wb.worksheets[0]!;
    const header = (ws.getRow(1).values as unknown[]).slice(1);
    expect(header.slice(0, 4)).toEqual(['ref', 'title', 'status', 'schema_version']);
    const col = header.indexOf('borrower_birth_date') + 1;
    expect(ws.getRow(2).getCell(col).value).toBeInstanceOf(Date);
    expect(String(ws.getRow(1).getCell(header.indexOf('loan_amount') + 1).note)).toContain('Сумма кредита');

    const imported = await dossier(['record', 'import', 'deal', file, '--json'], env);
    expect(imported.stderr).toBe('');
    const copy = imported.json()[0].ref;
    expect(copy).not.toBe(original);
    const [a, b] = [await baseValues(original), await baseValues(copy)];
    expect(Object.keys(b).length).toBeGreaterThanOrEqual(300);
    expect(b).toEqual(a);
  });

  it('round-trips through CSV as Excel in a Russian locale writes it', async () => {
    const file = path.join(work, 'deals.csv');
    await dossier(['export', 'deal', '--format', 'csv', '-o', file], env);
    const count = (await refs('deal')).length;
    const r = await dossier(['record', 'import', 'deal', file, '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.json()).toHaveLength(count);
    expect(await baseValues(r.json()[0].ref)).toEqual(await baseValues(original));
  });

  it('reports a bad cell with its row and column and imports nothing', async () => {
    const file = path.join(work, 'bad.xlsx');
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('deal');
    ws.addRow(['title', 'Фамилия', 'loan_amount', 'Дата рождения']);
    ws.addRow(['Первая', 'Иванов', 1_000_000, new Date(Date.UTC(1980, 0, 2))]);
    ws.addRow(['Вторая', 'Петров', 'сто рублей', '30.02.1990']);
    await wb.xlsx.writeFile(file);
    const before = await refs('deal');
    const r = await dossier(['record', 'import', 'deal', file], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error IMPORT_INVALID: bad.xlsx: 2 problem(s); nothing was imported');
    expect(r.stderr).toContain('row 3, C: loan_amount: "сто рублей" is not an amount of money');
    expect(r.stderr).toContain('row 3, D: borrower_birth_date: "30.02.1990" is not a real date');
    expect(await refs('deal')).toEqual(before);
    // The numbers the failed import took are given back.
    const next = (await dossier(['record', 'create', 'deal'], env)).stdout;
    expect(Number(next.slice(-5))).toBe(Number(before.at(-1)!.slice(-5)) + 1);
  });

  it('reports an unknown column by name', async () => {
    const file = path.join(work, 'unknown.csv');
    await writeFile(file, 'title;borrower_last_name;shoe_size\nX;Иванов;44\n');
    const r = await dossier(['record', 'import', 'deal', file], env);
    expect(r.stderr).toContain('column 3 "shoe_size": no field with this id or label in deal v2');
  });

  it('imports values of one record from a sheet with a recipient column', async () => {
    const file = path.join(work, 'values.csv');
    await writeFile(file, 'recipient,loan_term_months,loan_amount\n,84,"2 000 000,00"\nbank-volga,60,\n');
    const r = await dossier(['field', 'import', original, file, '--json'], env);
    expect(r.stderr).toBe('');
    const volga = (await dossier(['field', 'show', original, '--recipient', 'bank-volga', '--json'], env)).json().values as { field: string; value: unknown; provenance: string }[];
    expect(volga.find((v) => v.field === 'loan_term_months')).toMatchObject({ value: 60, provenance: 'overridden' });
    expect((await baseValues(original)).loan_amount).toBe('2000000.00');
  });

  it('refuses a broken JSON file', async () => {
    const file = path.join(work, 'broken.json');
    await writeFile(file, '{"type": "deal", "values": {');
    const r = await dossier(['record', 'import', 'deal', file], env);
    expect(r.stderr).toContain('error IMPORT_INVALID');
    expect(r.stderr).toContain('is not valid JSON');
  });
});
