import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PDFDocument } from '@cantoo/pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { buildDocx } from '../../src/tools/docx-source.js';
import { buildPdf } from '../../src/tools/pdf-source.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { docxCheckboxes, docxText, libreOfficeText, pdfText } from '../helpers/documents.js';

// Templates written here from text sources, filled from the sample deal, and read back.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let dir: string;
let deal: string;

const meta = (extra = '') => `title: Тест\ntype: deal\nschemas: [2]\nrecipient_kind: bank\n${extra}`;

async function template(name: string, source: string, sidecar = meta()): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, name.endsWith('.pdf') ? await buildPdf(source) : buildDocx(source, { title: 'Тест' }));
  await writeFile(`${file}.yaml`, sidecar);
  return file;
}

async function render(file: string, ...args: string[]): Promise<{ code: number; stderr: string; bytes: Buffer }> {
  const out = path.join(dir, `out-${path.basename(file)}`);
  const r = await dossier(['render', deal, '--template', file, '-o', out, ...args], env);
  return { code: r.code, stderr: r.stderr, bytes: r.code === 0 ? await readFile(out) : Buffer.alloc(0) };
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await tempDir();
  env = testEnv(db.url, await tempDir());
  deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref;
  await mkdir(dir, { recursive: true });
});
afterAll(() => db.drop());

const QUESTIONNAIRE = [
  '# Анкета заёмщика',
  'Заёмщик: {borrower_last_name | upper} {borrower_first_name} {borrower_middle_name | default:""}',
  'Дата рождения: {borrower_birth_date | date:"long"}',
  'Сумма кредита: {loan_amount | money} ({loan_amount | words})',
  'Срок: {loan_term_months} мес. Код продукта: {bank_product_code}',
  'Судимость: {has_criminal_record | tick} да   Семейное положение: {marital_status | tick:"married"} женат/замужем {marital_status | tick:"single"} холост',
  '{#has_criminal_record}',
  'ЭТОТ АБЗАЦ ВИДЕН ТОЛЬКО ПРИ СУДИМОСТИ',
  '{/has_criminal_record}',
  '{#marital_status | is:"married"}',
  'Сведения о супруге приложены.',
  '{/marital_status | is:"married"}',
  '| Кредитор | Остаток | Окончание |',
  '|---|---|---|',
  '| {#current_loans}{creditor} | {balance | money} | {end_date}{/current_loans} |',
  '[[box consent_personal_data]] Согласие на обработку персональных данных',
  '[[box has_criminal_record]] Имею судимость',
  '[[box marital_status=married]] Состою в браке',
  'Дата: {$today | date:"long"}  Заявка {$ref} для {$recipient_name}',
].join('\n');

describe('DOCX', () => {
  it('fills fields, filters, loops, conditions and both kinds of ticks for one bank', async () => {
    const file = await template('q.docx', QUESTIONNAIRE);
    const r = await render(file, '--recipient', 'bank-sever');
    expect(r.stderr).toBe('');
    const text = docxText(r.bytes);
    expect(text).toContain('Заёмщик: СМИРНОВ Алексей Викторович');
    expect(text).toContain('Дата рождения: 20 июня 1979 г.');
    expect(text).toContain('Сумма кредита: 2\u00a0500\u00a0000,00 (Два миллиона пятьсот тысяч рублей 00 копеек)');
    expect(text).toContain('Срок: 48 мес.'); // bank-sever's override, not the base 60
    expect(text).toContain('Код продукта: AUTO-STD');
    expect(text).toContain('Судимость: ☐ да   Семейное положение: ☒ женат/замужем ☐ холост');
    expect(text).not.toContain('ЭТОТ АБЗАЦ');
    expect(text).toContain('Сведения о супруге приложены.');
    expect(text).not.toMatch(/\{|\}|undefined/);
    // The condition's own paragraphs are gone: no empty lines left where they stood.
    expect(text).not.toMatch(/приложены\.\n\n/);
    // One table row per current loan.
    expect(text).toContain('АО «Банк Северный» | 42\u00a0300,00 | 31.08.2029 |');
    expect(text).toContain('ПАО «Волга-Кредит Банк» | 214\u00a0800,00 | 15.03.2028 |');
    expect(text.match(/\| \d{2}\.\d{2}\.\d{4} \|/g)).toHaveLength(2);
    const boxes = docxCheckboxes(r.bytes);
    expect(boxes.get('consent_personal_data')).toEqual({ checked: true, glyph: '☒' });
    expect(boxes.get('has_criminal_record')).toEqual({ checked: false, glyph: '☐' });
    expect(boxes.get('marital_status=married')).toEqual({ checked: true, glyph: '☒' });
    expect(text).toMatch(new RegExp(`Заявка ${deal} для АО «Банк Северный»`));
  });

  it('is accepted by LibreOffice, which shows the Russian date, the amount in words and the ticks', async () => {
    const r = await render(path.join(dir, 'q.docx'), '--recipient', 'bank-sever');
    const text = await libreOfficeText(r.bytes);
    const months = ['января', 'февраля', 'марта', 'апреля', 'мая', 'июня', 'июля', 'августа', 'сентября', 'октября', 'ноября', 'декабря'];
    const now = new Date();
    expect(text).toContain(`Дата: ${now.getDate()} ${months[now.getMonth()]} ${now.getFullYear()} г.`);
    expect(text).toMatch(/Два миллиона пятьсот тысяч рублей 00\s+копеек/);
    expect(text).toMatch(/☒ Согласие на обработку персональных данных/);
    expect(text).toMatch(/☐ Имею судимость/);
    expect(text).toMatch(/☒ Состою в браке/);
  }, 120_000);

  it('lists every tag without a value, and never writes "undefined"', async () => {
    await dossier(['field', 'unset', deal, 'borrower_first_name', 'loan_term_months'], env);
    try {
      const file = await template('missing.docx', 'Имя: {borrower_first_name}\nСрок: {loan_term_months}\nОтчество: {borrower_middle_name | default:"—"}');
      const r = await render(file);
      expect(r.code).toBe(1);
      // Named as staff know them (the Russian label) and by id.
      expect(r.stderr).toContain('error RENDER_MISSING_VALUES: missing.docx needs values the record does not have: «Имя» {borrower_first_name}, «Срок кредита, мес.» {loan_term_months}.');
    } finally {
      await dossier(['field', 'set', deal, 'borrower_first_name=Алексей', 'loan_term_months=60'], env);
    }
  });

  it('refuses a damaged file, a tag typo, a filter on the wrong type, and a record on another version', async () => {
    const corrupt = path.join(dir, 'corrupt.docx');
    await writeFile(corrupt, Buffer.from('PK\u0003\u0004 this is not really a zip'));
    await writeFile(`${corrupt}.yaml`, meta());
    const c = await render(corrupt);
    expect(c.stderr).toContain('error TEMPLATE_CORRUPT: corrupt.docx is not a readable .docx file');

    const typo = await template('typo.docx', 'Сумма: {loan_amount | money\nСрок: {loan_term_months}');
    const t = await render(typo);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain('error TEMPLATE_INVALID: typo.docx has template errors');
    expect(t.stderr).toMatch(/loan_amount \| money/);

    const wrong = await template('wrong.docx', 'Фамилия прописью: {borrower_last_name | words}');
    const w = await render(wrong);
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/borrower_last_name \| words/);

    const v1only = await template('v1.docx', 'Фамилия: {borrower_last_name}', meta().replace('schemas: [2]', 'schemas: [1]'));
    const v = await render(v1only);
    expect(v.stderr).toContain('error TEMPLATE_SCHEMA_MISMATCH: ');
    expect(v.stderr).toContain('supports deal schema v1; the record is on v2');
  });
});

const FORM_SOURCE = `title: Согласие
pages:
  - items:
      - { text: "СОГЛАСИЕ НА ОБРАБОТКУ ПЕРСОНАЛЬНЫХ ДАННЫХ", x: 60, y: 790, size: 13, bold: true }
      - { text: "ФИО:", x: 60, y: 750 }
      - { field: fio, type: text, x: 120, y: 746, w: 400, h: 16 }
      - { text: "Сумма:", x: 60, y: 720 }
      - { field: amount, type: text, x: 120, y: 716, w: 400, h: 16 }
      - { field: consent, type: checkbox, x: 60, y: 690, export: "Да" }
      - { text: "Согласен", x: 80, y: 691 }
      - { field: criminal, type: checkbox, x: 60, y: 670 }
      - { field: marital, type: radio, options: [{ export: Холост, x: 60, y: 640 }, { export: Женат, x: 160, y: 640 }] }
      - { field: purpose, type: dropdown, options: [Покупка нового автомобиля, Покупка автомобиля с пробегом, Ремонт], x: 60, y: 600, w: 300, h: 16 }
`;

const FORM_MAPPING = (flatten: boolean) =>
  meta(`mode: form
flatten: ${flatten}
fields:
  - { pdf: fio, value: "{borrower_last_name} {borrower_first_name} {borrower_middle_name | default:\\"\\"}" }
  - { pdf: amount, value: "{loan_amount | money} ({loan_amount | words})" }
  - { pdf: consent, field: consent_personal_data }
  - { pdf: criminal, field: has_criminal_record }
  - { pdf: marital, field: marital_status, options: { single: Холост, married: Женат } }
  - { pdf: purpose, field: loan_purpose }
`);

describe('PDF', () => {
  it('fills an AcroForm: Cyrillic text, checkboxes by their export value, a radio group and a dropdown', async () => {
    const file = await template('consent.pdf', FORM_SOURCE, FORM_MAPPING(false));
    const r = await render(file, '--recipient', 'bank-volga');
    expect(r.stderr).toBe('');
    const form = (await PDFDocument.load(r.bytes)).getForm();
    const blank = (await PDFDocument.load(await readFile(file))).getForm();
    const exportValue = blank.getCheckBox('consent').acroField.getOnValue();
    expect(form.getTextField('fio').getText()).toBe('Смирнов Алексей Викторович');
    expect(form.getTextField('amount').getText()).toBe('2\u00a0400\u00a0000,00 (Два миллиона четыреста тысяч рублей 00 копеек)');
    expect(form.getCheckBox('consent').isChecked()).toBe(true);
    // The box's own export value (Да, not the usual Yes) is what the form now holds.
    expect(exportValue?.decodeText()).toBe(Buffer.from('Да', 'utf8').toString('latin1'));
    expect(form.getCheckBox('consent').acroField.getValue()).toBe(exportValue);
    expect(form.getCheckBox('criminal').isChecked()).toBe(false);
    expect(form.getRadioGroup('marital').getSelected()).toBe('Женат');
    expect(form.getDropdown('purpose').getSelected()).toEqual(['Покупка нового автомобиля']);
  });

  it('flattens a form into page text, keeping the ticks', async () => {
    const file = await template('flat.pdf', FORM_SOURCE, FORM_MAPPING(true));
    const r = await render(file, '--recipient', 'bank-volga');
    expect(r.stderr).toBe('');
    expect((await PDFDocument.load(r.bytes)).getForm().getFields()).toHaveLength(0);
    const text = await pdfText(r.bytes);
    expect(text).toContain('Смирнов Алексей Викторович');
    expect(text).toContain('Два миллиона четыреста тысяч рублей 00 копеек');
  });

  it('draws values and ticks on a plain PDF in overlay mode', async () => {
    const plain = `title: Анкета
pages:
  - items:
      - { text: "АНКЕТА", x: 250, y: 790, size: 13, bold: true }
      - { text: "Фамилия:", x: 60, y: 750 }
      - { line: [130, 748, 400, 748] }
      - { text: "Женат / замужем", x: 80, y: 720 }
      - { box: [60, 719, 11, 11] }
`;
    const file = await template(
      'plain.pdf',
      plain,
      meta(`mode: overlay
overlay:
  - { page: 1, x: 135, y: 751, value: "{borrower_last_name} {borrower_first_name}" }
  - { page: 1, x: 61, y: 720, tick: marital_status, is: married }
  - { page: 1, x: 300, y: 790, size: 9, value: "Заявка {$ref}" }
`),
    );
    const r = await render(file);
    expect(r.stderr).toBe('');
    const text = await pdfText(r.bytes);
    expect(text).toMatch(/Фамилия:\s+Смирнов Алексей/);
    expect(text).toContain(`Заявка ${deal}`);
  });

  it('refuses characters the font cannot show, naming them', async () => {
    await dossier(['field', 'set', deal, 'application_city=Москва 🚗 北京'], env);
    const file = await template('glyph.pdf', 'title: G\npages:\n  - items:\n      - { field: city, type: text, x: 60, y: 700, w: 300, h: 16 }\n', meta('mode: form\nfields:\n  - { pdf: city, value: "{application_city}" }\n'));
    const r = await render(file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error FONT_MISSING_GLYPHS');
    expect(r.stderr).toContain('🚗 (U+1F697)');
    expect(r.stderr).toContain('北 (U+5317)');
    await dossier(['field', 'set', deal, 'application_city=Москва'], env);
  });
});

describe('template check', () => {
  it('reports every problem of every template at once, with file and location', async () => {
    const lintDir = await tempDir();
    const bad = path.join(lintDir, 'bad.docx');
    await writeFile(bad, buildDocx(['{loan_amout}', '{#borrower_last_name}x{/borrower_last_name}', '{loan_amount | tick}', '{#current_loans}{creditorr}{/current_loans}', '[[box marital_status]]', '{decision}'].join('\n'), { title: 'x' }));
    await writeFile(`${bad}.yaml`, 'title: x\ntype: deal\nschemas: [1, 2]\n');
    const pdf = path.join(lintDir, 'form.pdf');
    await writeFile(pdf, await buildPdf(FORM_SOURCE));
    await writeFile(`${pdf}.yaml`, meta('mode: form\nfields:\n  - { pdf: no_such_box, field: has_criminal_record }\n  - { pdf: consent, field: loan_amount }\n'));
    const r = await dossier(['template', 'check', bad, pdf], env);
    expect(r.code).toBe(1);
    const err = r.stderr;
    // Once, naming both schema versions it is wrong in.
    expect(err).toMatch(/bad\.docx: word\/document\.xml \{loan_amout\}: unknown field "loan_amout" \(v1, v2\)/);
    expect(err.match(/unknown field "loan_amout"/g)).toHaveLength(1);
    expect(err).toMatch(/\{borrower_last_name\}: loop over "borrower_last_name", which is text, not a table/);
    expect(err).toMatch(/\{loan_amount \| tick\}: the "tick" filter applies to boolean, enum fields, and .* is money/);
    expect(err).toMatch(/\{creditorr\}: unknown field "creditorr"/);
    expect(err).toMatch(/checkbox dossier:marital_status: a tick over "marital_status", which is enum, not boolean/);
    expect(err).toMatch(/\{decision\}: "decision" is a bank field: the template must declare recipient_kind: bank/);
    expect(err).toMatch(/form\.pdf: mapping "no_such_box": the PDF has no field "no_such_box"/);
    expect(err).toMatch(/form\.pdf: mapping "consent": a tick over "loan_amount", which is money, not boolean/);
  });

  it('reports a syntax error and the unknown fields behind it together, with the paragraph', async () => {
    const lintDir = await tempDir();
    const bad = path.join(lintDir, 'unclosed.docx');
    await writeFile(bad, buildDocx(['Заёмщик: {borrower_last_name}', 'Сумма: {loan_amount', 'Город: {no_such_city}'].join('\n'), { title: 'x' }));
    await writeFile(`${bad}.yaml`, 'title: x\ntype: deal\nschemas: [1, 2]\n');
    const r = await dossier(['template', 'check', bad], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unclosed\.docx: word\/document\.xml paragraph \d+: The tag beginning with "\{loan_amount/);
    expect(r.stderr).toMatch(/unclosed\.docx: word\/document\.xml paragraph \d+ \{no_such_city\}: unknown field "no_such_city" \(v1, v2\)/);
  });

  it('hints at quotes when a sidecar title has an unquoted ": "', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'q.docx');
    await writeFile(file, buildDocx('Текст', { title: 'x' }));
    await writeFile(`${file}.yaml`, 'title: Анкета: физическое лицо\ntype: deal\nschemas: [1]\n');
    const r = await dossier(['template', 'check', file], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('must be in quotes: title: "Анкета: физическое лицо"');
  });
});
