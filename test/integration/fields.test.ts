import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let deal: string;

interface Effective { field: string; value: unknown; display: string; provenance: string; baseValue?: unknown; setBy: string; origin: string | null; retired: boolean }

async function view(ref: string, ...args: string[]): Promise<Map<string, Effective>> {
  const r = await dossier(['field', 'show', ref, ...args, '--json'], env);
  expect(r.stderr).toBe('');
  return new Map((r.json().values as Effective[]).map((v) => [v.field, v]));
}

const sql = <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir());
  const r = await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env);
  expect(r.stderr).toBe('');
  deal = r.json()[0].ref;
});
afterAll(() => db.drop());

describe('field values', () => {
  it('imports the sample deal: every base value, the banks and their overrides, with provenance', async () => {
    const base = await view(deal);
    expect(base.size).toBeGreaterThanOrEqual(300);
    expect(base.get('borrower_last_name')).toMatchObject({ value: 'Смирнов', provenance: 'set', setBy: 'import:deal.json', origin: 'deal.json' });
    const sever = await view(deal, '--recipient', 'bank-sever');
    expect(sever.get('loan_term_months')).toMatchObject({ value: 48, provenance: 'overridden', baseValue: 60 });
    expect(sever.get('borrower_last_name')).toMatchObject({ provenance: 'inherited', value: 'Смирнов' });
    expect(sever.get('bank_product_code')?.provenance).toBe('recipient');
  });

  it('parses values per type and records who set them', async () => {
    const r = await dossier(['field', 'set', deal, 'loan_amount=1 500 000,00', 'borrower_birth_date=21.11.1985', 'has_criminal_record=нет', 'loan_term_months=60'], { ...env, DOSSIER_USER: 'anna' });
    expect(r.code).toBe(0);
    const base = await view(deal);
    expect(base.get('loan_amount')).toMatchObject({ value: '1500000.00', display: '1\u00a0500\u00a0000,00', setBy: 'cli:anna' });
    expect(base.get('borrower_birth_date')).toMatchObject({ value: '1985-11-21', display: '21.11.1985' });
    expect(base.get('has_criminal_record')).toMatchObject({ value: false, display: 'нет' });
    const h = (await dossier(['record', 'history', deal], env)).stdout.replace(/\n {20,}/g, ' '); // the wrapped column joined back
    expect(h).toMatch(/cli:anna\s+field loan_amount set: \d+\.\d\d → 1500000\.00/);
  });

  it('refuses bad values all together and changes nothing', async () => {
    const before = await view(deal);
    const r = await dossier(['field', 'set', deal, 'loan_amount=много', 'borrower_birth_date=31.02.1985', 'loan_term_months=60', 'no_such=1'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error FIELD_INVALID: Nothing was changed on');
    expect(r.stderr).toContain('loan_amount: "много" is not an amount of money');
    expect(r.stderr).toContain('borrower_birth_date: "31.02.1985" is not a real date');
    expect(r.stderr).toContain('no_such: there is no field "no_such" in deal v2');
    const after = await view(deal);
    expect(after.get('loan_amount')?.value).toBe(before.get('loan_amount')?.value);
  });

  it('refuses what a section cannot hold', async () => {
    const notOverridable = await dossier(['field', 'set', deal, '--recipient', 'bank-volga', 'borrower_last_name=Петров'], env);
    expect(notOverridable.stderr).toContain('"borrower_last_name" is the same for every recipient and cannot be overridden');
    const recipientOnly = await dossier(['field', 'set', deal, 'decision=approved'], env);
    expect(recipientOnly.stderr).toContain(`"decision" belongs to a recipient's section: add --recipient <party>`);
    const retired = await dossier(['field', 'set', deal, 'borrower_fax=+7 495 111-22-33'], env);
    expect(retired.stderr).toContain('"borrower_fax" is retired in deal v2');
    const notLinked = await dossier(['field', 'set', deal, '--recipient', 'bank-nowhere', 'loan_term_months=12'], env);
    expect(notLinked.stderr).toContain('bank-nowhere is not linked to');
  });

  it('overrides per recipient, detects a stale override, and lets it be confirmed or dropped', async () => {
    await dossier(['field', 'set', deal, 'loan_term_months=60'], env);
    await dossier(['field', 'set', deal, '--recipient', 'bank-volga', 'loan_term_months=36'], env);
    let volga = await view(deal, '--recipient', 'bank-volga');
    expect(volga.get('loan_term_months')).toMatchObject({ value: 36, provenance: 'overridden', baseValue: 60 });

    // The base changes after the override was made: the override is now stale.
    await new Promise((r) => setTimeout(r, 20));
    await dossier(['field', 'set', deal, 'loan_term_months=72'], env);
    volga = await view(deal, '--recipient', 'bank-volga');
    expect(volga.get('loan_term_months')).toMatchObject({ value: 36, provenance: 'stale_override', baseValue: 72 });
    const text = (await dossier(['field', 'show', deal, '--recipient', 'bank-volga'], env)).stdout;
    expect(text).toMatch(/loan_term_months\s+.*36\s+STALE override: base changed since; base: 72/);

    // Setting the same value again confirms it.
    const confirm = await dossier(['field', 'set', deal, '--recipient', 'bank-volga', 'loan_term_months=36'], env);
    expect(confirm.stdout).toMatch(/bank-volga\s+loan_term_months\s+confirmed/);
    expect((await view(deal, '--recipient', 'bank-volga')).get('loan_term_months')?.provenance).toBe('overridden');

    // Dropping the override brings the base value back.
    await dossier(['field', 'unset', deal, '--recipient', 'bank-volga', 'loan_term_months'], env);
    expect((await view(deal, '--recipient', 'bank-volga')).get('loan_term_months')).toMatchObject({ value: 72, provenance: 'inherited' });
    const h = (await dossier(['record', 'history', deal], env)).stdout.replace(/\n {20,}/g, ' '); // the wrapped column joined back
    expect(h).toContain('field loan_term_months [bank-volga] cleared: 36 → —');
  });

  it('lists required fields still empty', async () => {
    const ref = (await dossier(['record', 'create', 'claim'], env)).stdout;
    const missing = await view(ref, '--missing');
    expect(missing.has('incident_date')).toBe(true);
    expect([...missing.values()].every((v) => v.provenance === 'empty')).toBe(true);
  });
});

describe('migrating a record to another version', () => {
  it('moves a v1 record to v2 keeping every value; retired values stay visible and in the history', async () => {
    // The sample deal on v1: v2-only fields are left out, the rest is the same.
    const v1 = (await dossier(['schema', 'show', 'deal', 'v1', '--json'], env)).json() as { sections: { fields: { id: string }[] }[] };
    const v1ids = new Set(v1.sections.flatMap((s) => s.fields.map((f) => f.id)));
    const fixture = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(path.join(fixturesDir, 'records', 'deal.json'), 'utf8')));
    const keep = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([k]) => v1ids.has(k)));
    fixture.schemaVersion = 1;
    fixture.values.base = { ...keep(fixture.values.base), borrower_fax: '+7 495 765-43-21', home_phone: '+7 495 123-45-67' };
    fixture.values.recipients = Object.fromEntries(Object.entries(fixture.values.recipients as Record<string, Record<string, unknown>>).map(([k, v]) => [k, keep(v)]));
    const file = path.join(await tempDir(), 'deal-v1.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, JSON.stringify(fixture)));
    const imported = await dossier(['record', 'import', 'deal', file, '--json'], env);
    expect(imported.stderr).toBe('');
    const ref = imported.json()[0].ref as string;
    expect((await dossier(['record', 'show', ref, '--json'], env)).json().record.schema_version).toBe(1);

    const before = await sql<{ party_id: number | null; field_id: string; value: unknown }>('SELECT party_id, field_id, value FROM field_values fv JOIN records r ON r.id = fv.record_id WHERE r.ref = $1 ORDER BY 1, 2', [ref]);
    const diff = (await dossier(['schema', 'diff', 'deal', 'v1', 'v2', '--json'], env)).json();
    expect(diff.retired.find((f: { id: string }) => f.id === 'borrower_fax').records).toBe(1);
    expect(diff.added.length).toBeGreaterThanOrEqual(10);
    expect(diff.changed.find((c: { id: string }) => c.id === 'loan_amount').what.join()).toContain('validation');

    const m = await dossier(['record', 'migrate', ref, '--to', 'v2'], env);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain(`${ref}: v1 → v2; every value kept.`);
    expect(m.stdout).toMatch(/retired in v2, values kept \(field show --all\): .*borrower_fax/);
    const after = await sql('SELECT party_id, field_id, value FROM field_values fv JOIN records r ON r.id = fv.record_id WHERE r.ref = $1 ORDER BY 1, 2', [ref]);
    expect(after).toEqual(before);

    const all = await view(ref, '--all');
    expect(all.get('borrower_fax')).toMatchObject({ value: '+74957654321', retired: true });
    expect((await view(ref)).has('borrower_fax')).toBe(false); // not in the everyday view
    const h = (await dossier(['record', 'history', ref], env)).stdout.replace(/\n {20,}/g, ' '); // the wrapped column joined back
    expect(h).toContain('schema v1 → v2');
    expect(h).toMatch(/field borrower_fax set: — → \+74957654321 \(from deal-v1\.json\)/);
  });

  it('says which published versions exist when the target is not published', async () => {
    const r = await dossier(['record', 'migrate', deal, '--to', 'v9'], env);
    expect(r.stderr).toContain('error SCHEMA_NOT_PUBLISHED: deal v9 is not published.');
  });
});
