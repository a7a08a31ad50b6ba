import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PDFDocument } from '@cantoo/pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir, templatesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { docxText, libreOfficeText, pdfText } from '../helpers/documents.js';

// Every template that ships, filled from the sample deal and claim, opened as a user would.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let out: string;
let deal: string;
let claim: string;

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir());
  out = await tempDir();
  deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref;
  claim = (await dossier(['record', 'import', 'claim', path.join(fixturesDir, 'records', 'claim.json'), '--json'], env)).json()[0].ref;
});
afterAll(() => db.drop());

async function render(ref: string, template: string, recipient?: string): Promise<Buffer> {
  const file = path.join(out, `${path.basename(path.dirname(template))}-${path.basename(template)}`);
  const r = await dossier(['render', ref, '--template', path.join(templatesDir, template), '-o', file, ...(recipient ? ['--recipient', recipient] : [])], env);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return readFile(file);
}

describe('shipped templates', () => {
  it('pass the template lint', async () => {
    const r = await dossier(['template', 'check'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^OK: \d+ template\(s\) checked/);
  });

  it('template check fills each template from the sample record and fails on every value that does not fit', async () => {
    // A bank's consent form mapped the way an admin might: the long birth place into the small
    // passport-date box, and the full issuing authority into the division code box.
    const dir = path.join(await tempDir(), 'bank-sever');
    await mkdir(dir);
    await copyFile(path.join(templatesDir, 'bank-sever', 'consent.pdf'), path.join(dir, 'consent.pdf'));
    const sidecar = (await readFile(path.join(templatesDir, 'bank-sever', 'consent.pdf.yaml'), 'utf8'))
      .replace("value: '{passport_issue_date | date}'", "value: '{borrower_birth_place}'")
      .replace("value: '{passport_division_code}'", "value: '{passport_issued_by}'");
    await writeFile(path.join(dir, 'consent.pdf.yaml'), sidecar);
    const r = await dossier(['template', 'check', path.join(dir, 'consent.pdf')], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TEMPLATE_INVALID');
    expect(r.stderr).toMatch(/filled from the sample deal \(v2\): PDF field "passport_issue_date" \(\d+×\d+ pt\): «.+» does not fit even at 6 pt/);
    expect(r.stderr).toMatch(/PDF field "passport_division_code" \(\d+×\d+ pt\): «.+» does not fit even at 6 pt/);
  });

  it.each([
    // bank-sever overrides the term to 48 months; the signature date is today, in words.
    ['bank-sever/questionnaire.docx', 'bank-sever', ['Смирнов Алексей Викторович', 'Два миллиона пятьсот тысяч рублей 00 копеек', 'AUTO-STD', 'Срок кредита: 48 (сорок восемь) мес.', '☒ женат / замужем']],
    ['bank-volga/questionnaire.docx', 'bank-volga', ['Смирнов', 'Два миллиона четыреста тысяч рублей 00 копеек', '☒']],
    ['bank-meridian/questionnaire.docx', 'bank-meridian', ['Смирнов', '☒']],
    ['internal/loan-agreement.docx', undefined, ['Смирнов', 'Два миллиона пятьсот тысяч рублей 00 копеек']],
  ] as const)('%s: filled for the sample deal and opened by LibreOffice', async (template, recipient, expected) => {
    const bytes = await render(deal, template, recipient);
    const text = docxText(bytes);
    expect(text).not.toMatch(/\{[^}]*\}|undefined|NaN/);
    const shown = await libreOfficeText(bytes);
    for (const e of expected) expect(shown.replace(/\s+/g, ' ')).toContain(e);
  }, 120_000);

  it.each([
    ['insurer-magistral/claim-notice.docx', 'insurer-magistral', ['ООО «ТрансЛогистик»', 'Т245КМ750']],
    ['lawyer/cover-letter.docx', 'lawyer-ershov', ['Ершов', 'ООО «ТрансЛогистик»']],
  ] as const)('%s: filled for the sample claim and opened by LibreOffice', async (template, recipient, expected) => {
    const bytes = await render(claim, template, recipient);
    expect(docxText(bytes)).not.toMatch(/\{[^}]*\}|undefined|NaN/);
    const shown = (await libreOfficeText(bytes)).replace(/\s+/g, ' ');
    for (const e of expected) expect(shown).toContain(e);
  }, 120_000);

  it('fills the PDF forms and the overlay form', async () => {
    const sever = (await PDFDocument.load(await render(deal, 'bank-sever/consent.pdf', 'bank-sever'))).getForm();
    const texts = sever.getFields().map((f) => ('getText' in f ? (f as { getText(): string | undefined }).getText() : undefined)).filter(Boolean).join(' | ');
    expect(texts).toContain('Смирнов');
    expect(sever.getFields().filter((f) => 'isChecked' in f && (f as { isChecked(): boolean }).isChecked()).length).toBeGreaterThan(0);

    const volga = await render(deal, 'bank-volga/consent.pdf', 'bank-volga');
    expect((await PDFDocument.load(volga)).getForm().getFields()).toHaveLength(0); // flattened
    expect(await pdfText(volga)).toContain('Смирнов');

    const meridian = await pdfText(await render(deal, 'bank-meridian/application.pdf', 'bank-meridian'));
    expect(meridian).toContain('Смирнов');

    const notice = (await PDFDocument.load(await render(claim, 'insurer-magistral/claim-notice.pdf', 'insurer-magistral'))).getForm();
    expect(notice.getFields().length).toBeGreaterThan(10);
  });
});
