import { readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir, packageRoot } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';

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
  it('round-trips a 300+-field deal through XLSX: Russian headers, and re-importing updates the record instead of copying it', async () => {
    const file = path.join(work, 'deals.xlsx');
    const e = await dossier(['export', 'deal', '--format', 'xlsx', '-o', file, '--json'], env);
    expect(e.json()).toMatchObject({ records: 1 });
    expect(e.json().fields).toBeGreaterThanOrEqual(300);

    // What a person opening the file sees: Russian labels in the header (a label several fields share
    // carries the field id), the id and both labels in the notes, a real date cell.
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const ws = wb.worksheets[0]!;
    const header = (ws.getRow(1).values as unknown[]).slice(1) as string[];
    expect(header.slice(0, 4)).toEqual(['Номер', 'Название', 'Статус', 'Версия схемы']);
    expect(header).toContain('Сумма кредита');
    expect(header.filter((h) => h.startsWith('Индекс ('))).not.toHaveLength(0);
    expect(new Set(header).size).toBe(header.length);
    expect(header.some((h) => /^[a-z_]+$/.test(h))).toBe(false);
    const col = header.indexOf('Дата рождения') + 1;
    expect(col).toBeGreaterThan(0);
    expect(ws.getRow(2).getCell(col).value).toBeInstanceOf(Date);
    expect(String(ws.getRow(1).getCell(header.indexOf('Сумма кредита') + 1).note)).toContain('loan_amount');

    const before = await refs('deal');
    const again = await dossier(['record', 'import', 'deal', file, '--json'], env);
    expect(again.stderr).toBe('');
    expect(again.json()).toEqual([{ ref: original, values: 0, parties: [], updated: true }]);
    expect(await refs('deal')).toEqual(before);

    // An edited cell is the one change; a row with its ref cleared is a new record.
    const amount = header.indexOf('Сумма кредита') + 1;
    ws.getRow(2).getCell(amount).value = 3_500_000;
    const copyRow = ws.addRow((ws.getRow(2).values as unknown[]).slice(1));
    copyRow.getCell(1).value = null;
    await wb.xlsx.writeFile(file);
    const edited = await dossier(['record', 'import', 'deal', file, '--json'], env);
    expect(edited.stderr).toBe('');
    const [upd, fresh] = edited.json() as { ref: string; values: number; updated?: boolean }[];
    expect(upd).toEqual({ ref: original, values: 1, parties: [], updated: true });
    expect(fresh!.ref).not.toBe(original);
    expect(fresh!.updated).toBeUndefined();
    const [a, b] = [await baseValues(original), await baseValues(fresh!.ref)];
    expect(a.loan_amount).toBe('3500000.00');
    expect(Object.keys(b).length).toBeGreaterThanOrEqual(300);
    expect(b).toEqual(a);
    const history = (await dossier(['record', 'history', original, '--json'], env)).json().events as { kind: string; field: string | null; old_value: unknown; new_value: unknown }[];
    expect(history.filter((h) => h.kind === 'field_set' && h.field === 'loan_amount').at(-1)).toMatchObject({ new_value: '3500000.00' });
  });

  it('round-trips through CSV as Excel in a Russian locale writes it', async () => {
    const file = path.join(work, 'deals.csv');
    await dossier(['export', 'deal', '--format', 'csv', '-o', file], env);
    const text = await readFile(file, 'utf8');
    expect(text.split('\r\n')[0]).toMatch(/^\uFEFFНомер;Название;Статус;Версия схемы;/);
    // Without the ref column every row is a new record with the same values.
    const rows = text.replace(/^\uFEFF/, '').split('\r\n').filter(Boolean).map((l) => l.replace(/^[^;]*;/, ''));
    const noRef = path.join(work, 'deals-noref.csv');
    await writeFile(noRef, rows.join('\r\n') + '\r\n');
    const count = (await refs('deal')).length;
    const r = await dossier(['record', 'import', 'deal', noRef, '--json'], env);
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

  it('ignores an unknown column and says so; --strict refuses the file', async () => {
    const file = path.join(work, 'unknown.csv');
    await writeFile(file, 'Название;Фамилия;shoe_size\nX;Иванов;44\n');
    const r = await dossier(['record', 'import', 'deal', file, '--json'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('unknown.csv: 1 column(s) ignored');
    expect(r.stderr).toContain('column 3 "shoe_size": no field with this id or label in deal v2');
    expect((await baseValues(r.json()[0].ref)).borrower_last_name).toBe('Иванов');

    const before = await refs('deal');
    const strict = await dossier(['record', 'import', 'deal', file, '--strict'], env);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('error IMPORT_INVALID: unknown.csv: 1 problem(s); nothing was imported');
    expect(strict.stderr).toContain('column 3 "shoe_size"');
    expect(await refs('deal')).toEqual(before);
  });

  it('refuses a label that several fields share unless the column names the field', async () => {
    const file = path.join(work, 'ambiguous.csv');
    await writeFile(file, 'Название;Улица\nX;Ленина\n');
    const r = await dossier(['record', 'import', 'deal', file], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/column 2 "Улица": several fields have this label \([a-z_]+, [a-z_]+/);
  });

  it('refuses a ref that names no record, and a ref given twice', async () => {
    const file = path.join(work, 'refs.csv');
    await writeFile(file, `Номер;Фамилия\nDL-2001-00999;Иванов\n${original};Петров\n${original.toLowerCase()};Сидоров\n`);
    const r = await dossier(['record', 'import', 'deal', file], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('row 2, column 1: there is no record DL-2001-00999');
    expect(r.stderr).toContain(`row 4, column 1: ${original} is already on row 3`);
    expect((await baseValues(original)).borrower_last_name).not.toBe('Петров');
  });

  it('holds no reference-counter lock while it writes: a colleague\'s record create goes through in the middle of an import', async () => {
    const file = path.join(work, 'five.csv');
    await writeFile(file, ['Название;Фамилия', ...Array.from({ length: 5 }, (_, i) => `Пятёрка ${i + 1};Иванов`)].join('\n') + '\n');
    // Hold the import in its write phase: a lock the value inserts wait for, and `record create` does not need.
    const blocker = new pg.Client(db.config);
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE field_values IN SHARE MODE');
      const child = spawn(process.execPath, [path.join(packageRoot, 'bin', 'dossier'), 'record', 'import', 'deal', file, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      // Polled outside the blocker's transaction, whose view of pg_stat_activity is a snapshot.
      for (;;) {
        const waiting = await sqlRows(db, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO field_values%'");
        if (waiting.length) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // The import is in the middle of its transaction; a new record does not wait for it.
      const created = await dossier(['record', 'create', 'deal', '--title', 'Пока идёт импорт'], env);
      expect(created.code).toBe(0);
      await blocker.query('COMMIT');
      expect(await exited).toBe(0);
      const imported = (JSON.parse(out) as { ref: string }[]).map((r) => r.ref);
      expect(imported).toHaveLength(5);
      // The import took its numbers as one block before writing; the colleague got the next one.
      const seq = (ref: string) => Number(ref.slice(-5));
      expect(imported.map(seq)).toEqual([0, 1, 2, 3, 4].map((k) => seq(imported[0]!) + k));
      expect(seq(created.stdout)).toBe(seq(imported[4]!) + 1);
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      await blocker.end();
    }
  }, 120_000);

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
