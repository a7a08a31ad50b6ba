import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import PizZip from 'pizzip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDocx } from '../../src/documents/docx.js';
import { fixturesDir } from '../../src/paths.js';
import { parseSchemaText } from '../../src/schemas/load.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { libreOfficeText } from '../helpers/documents.js';

// Word legacy form fields (FORMTEXT, FORMCHECKBOX, FORMDROPDOWN) in a questionnaire LibreOffice
// wrote as .docx and as .doc; the .doc accepted by converting it once with LibreOffice.

const SCHEMA = parseSchemaText(
  `type: form
version: 1
title: { ru: Анкета, en: Form }
sections:
  - id: main
    label: { ru: Основное, en: Main }
    fields:
      - { id: full_name, type: text, label: { ru: ФИО, en: Name } }
      - { id: married, type: boolean, label: { ru: В браке, en: Married } }
      - id: kind
        type: enum
        label: { ru: Обращение, en: Request }
        options:
          - { value: new, label: { ru: новое, en: new } }
          - { value: old, label: { ru: повторное, en: repeat } }
      - id: city
        type: enum
        label: { ru: Город, en: City }
        options:
          - { value: msk, label: { ru: Москва, en: Moscow } }
          - { value: tula, label: { ru: Тула, en: Tula } }
`,
  'form/v1.yaml',
  { type: 'form', version: 1 },
).schema!;

const MAP = { LastName: '{full_name}', '#2': 'married', '#3': 'kind=new', '#4': 'kind=old', '#5': '{city | label}' };

/** Each FORMCHECKBOX's checked state, in document order. */
function checkboxes(docx: Buffer): boolean[] {
  const xml = new PizZip(docx).file('word/document.xml')!.asText();
  return [...xml.matchAll(/<w:checkBox>([\s\S]*?)<\/w:checkBox>/g)].map((m) => /<w:checked(?: w:val="(1|true|on)")?\s*\/>/.test(m[1]!) && !/<w:checked w:val="(0|false|off)"/.test(m[1]!));
}

describe('Word legacy form fields', () => {
  it('are ticked, filled and chosen as mapped, and LibreOffice shows them so', async () => {
    const template = await readFile(path.join(fixturesDir, 'forms', 'word-legacy-fields.docx'));
    expect(checkboxes(template)).toEqual([false, false, true]);
    const out = renderDocx(template, 'q.docx', { values: { full_name: 'Смирнов Алексей', married: true, kind: 'new', city: 'tula' }, fields: SCHEMA.fields, specials: {}, lang: 'ru' }, MAP);
    expect(checkboxes(out)).toEqual([true, true, false]);
    const xml = new PizZip(out).file('word/document.xml')!.asText();
    expect(xml).toContain('<w:result w:val="1"/>');
    const shown = (await libreOfficeText(out)).replace(/\s+/g, ' ');
    expect(shown).toContain('Фамилия: Смирнов Алексей');
    expect(shown).toContain('Тула');
  }, 120_000);

  it('a compiled template renders again from the template, not from the previous result', async () => {
    const template = await readFile(path.join(fixturesDir, 'forms', 'word-legacy-fields.docx'));
    const data = (values: Record<string, unknown>) => ({ values: values as never, fields: SCHEMA.fields, specials: {}, lang: 'ru' as const });
    const first = renderDocx(template, 'q.docx', data({ full_name: 'Первый', married: true, kind: 'new', city: 'tula' }), MAP);
    const second = renderDocx(template, 'q.docx', data({ full_name: 'Второй', married: false, kind: 'old', city: 'msk' }), MAP);
    const text = (b: Buffer) => new PizZip(b).file('word/document.xml')!.asText();
    expect(text(first)).toContain('Первый');
    expect(text(second)).toContain('Второй');
    expect(text(second)).not.toContain('Первый');
    expect(checkboxes(second)).toEqual([false, false, true]);
    expect(text(second)).toContain('<w:result w:val="0"/>');
  });

  it('names every mapping that points at no field, and every value too long or not an entry', () => {
    const template = readFile(path.join(fixturesDir, 'forms', 'word-legacy-fields.docx'));
    return template.then((bytes) => {
      expect(() => renderDocx(bytes, 'q.docx', { values: { city: 'msk' }, fields: SCHEMA.fields, specials: {}, lang: 'ru' }, { '#5': 'Калининград', Check9: 'married' })).toThrow(
        /Word form field "#5": "Калининград" is not one of its entries \(Москва, Тула, Калуга\)[\s\S]*Word form field "Check9" \(in word_fields\) is not in the document \(5 legacy form field\(s\)/,
      );
    });
  });
});

describe('authoring from the CLI', () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    db = await createTestDatabase();
    env = testEnv(db.url, await tempDir());
    await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json')], env);
  });
  afterAll(() => db.drop());

  it('template init converts a LibreOffice-made .doc to .docx once, says so, and writes a sidecar listing its fields', async () => {
    const dir = await tempDir();
    const doc = path.join(dir, 'anketa.doc');
    await copyFile(path.join(fixturesDir, 'forms', 'word-legacy-fields.doc'), doc);
    const r = await dossier(['template', 'init', doc, '--recipient', 'bank-sever'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Converted');
    expect(r.stdout).toContain('anketa.docx with LibreOffice');
    const sidecar = await readFile(path.join(dir, 'anketa.docx.yaml'), 'utf8');
    expect(sidecar).toContain('type: deal');
    expect(sidecar).toContain('recipient_kind: bank');
    expect(sidecar).toContain('"LastName": …   # Word FORMTEXT');
    expect(sidecar).toContain('"#5": …   # Word FORMDROPDOWN: Москва | Тула | Калуга');

    const fields = await dossier(['template', 'fields', path.join(dir, 'anketa.docx')], env);
    expect(fields.stdout).toContain('LastName  (Word FORMTEXT)');
    expect(fields.stdout).toContain('#2  (Word FORMCHECKBOX)');

    // Rendering the .doc itself is refused with the way forward.
    const again = await dossier(['template', 'check', doc], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('template init');
  }, 180_000);

  it('template fields lists a PDF form: kinds, options, max length, box and page', async () => {
    const r = await dossier(['template', 'fields', path.join(fixturesDir, 'forms', 'libreoffice-form.pdf')], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('libreoffice-form.pdf: 7 field(s)');
    expect(r.stdout).toMatch(/snils {2}\(text; at most 11 characters; 85×15 pt; page 2\)/);
    expect(r.stdout).toMatch(/city {2}\(list box; options: Москва \| Тула \| Калуга; \d+×\d+ pt; page 2\)/);
    expect(r.stdout).toMatch(/agree {2}\(checkbox; options: Да;/);
  });
});
