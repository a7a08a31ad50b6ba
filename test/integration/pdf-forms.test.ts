import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PDFDict, PDFDocument, PDFName, PDFTextField, type PDFCheckBox } from '@cantoo/pdf-lib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RenderData } from '../../src/documents/evaluate.js';
import { fillPdf } from '../../src/documents/pdf.js';
import { TemplateMeta } from '../../src/documents/templates.js';
import { DossierError } from '../../src/errors.js';
import { fixturesDir } from '../../src/paths.js';
import { parseSchemaText } from '../../src/schemas/load.js';
import type { FieldValue } from '../../src/schemas/types.js';
import { libreOfficePdfText, pdfText } from '../helpers/documents.js';

// Forms as banks and insurers send them, made by the software that makes them: a LibreOffice
// export (NeedAppearances, fonts missing from /DR), pdf-lib-made comb fields and editable combos,
// a checkbox without an appearance stream, an XFA hybrid, qpdf-encrypted copies. Each is filled
// and read back with poppler (pdftotext) and pdf-lib.

const run = promisify(execFile);

const SCHEMA = parseSchemaText(
  `type: form
version: 1
title: { ru: Анкета, en: Form }
sections:
  - id: main
    label: { ru: Основное, en: Main }
    fields:
      - { id: full_name, type: text, label: { ru: ФИО, en: Name } }
      - { id: snils, type: text, label: { ru: СНИЛС, en: SNILS } }
      - { id: birth_date, type: date, label: { ru: Дата рождения, en: Birth date } }
      - { id: agree, type: boolean, label: { ru: Согласие, en: Consent } }
      - { id: married, type: boolean, label: { ru: В браке, en: Married } }
      - { id: branch, type: text, label: { ru: Отделение, en: Branch } }
      - { id: notes, type: text, label: { ru: Примечания, en: Notes } }
      - id: city
        type: enum
        label: { ru: Город, en: City }
        options:
          - { value: msk, label: { ru: Москва, en: Moscow } }
          - { value: tula, label: { ru: Тула, en: Tula } }
      - id: kind
        type: enum
        label: { ru: Обращение, en: Request }
        options:
          - { value: new, label: { ru: новое, en: new } }
          - { value: old, label: { ru: повторное, en: repeat } }
`,
  'form/v1.yaml',
  { type: 'form', version: 1 },
).schema!;

function data(values: Record<string, FieldValue>): RenderData {
  return { values, fields: SCHEMA.fields, specials: {}, lang: 'ru' };
}

const meta = (fields: unknown[]) => TemplateMeta.parse({ title: 't', type: 'form', schemas: [1], mode: 'form', fields });

async function failure(p: Promise<unknown>): Promise<DossierError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DossierError);
  return err as DossierError;
}

async function tmp(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'dossier-forms-'));
}

/** A form as pdf-lib-based generators make it: one page, the given fields added by `build`. */
async function madeForm(build: (doc: PDFDocument) => void): Promise<Buffer> {
  const doc = await PDFDocument.create();
  doc.addPage([595, 842]);
  build(doc);
  return Buffer.from(await doc.save());
}

const libreOfficeForm = () => readFile(path.join(fixturesDir, 'forms', 'libreoffice-form.pdf'));

afterEach(() => vi.restoreAllMocks());

describe('a LibreOffice-made form (NeedAppearances, /DA fonts missing from /DR)', () => {
  const mapping = meta([
    { pdf: 'full_name', value: '{full_name}' },
    { pdf: 'snils', value: '{snils | digits}' },
    { pdf: 'agree', field: 'agree' },
    { pdf: 'city', field: 'city' },
    { pdf: 'branch', value: '{branch}' },
    { pdf: 'notes', value: '{notes}' },
    { pdf: 'kind', field: 'kind', options: { new: 'new', old: 'old' } },
  ]);
  const values = {
    full_name: 'Смирнов Алексей Викторович',
    snils: '112-233-445 95',
    agree: true,
    city: 'tula',
    branch: 'Южный',
    notes: 'Клиент просит перезвонить после 18:00; документы передаст курьером в пятницу.',
    kind: 'old',
  };

  it('shows every value in poppler and in LibreOffice, with our font in /DR and every /DA', async () => {
    const out = await fillPdf(await libreOfficeForm(), 'libreoffice-form.pdf', mapping, data(values));
    const text = await pdfText(out);
    expect(text).toContain('Смирнов Алексей Викторович');
    expect(text).toContain('11223344595');
    expect(text).toContain('Тула');
    expect(text).toContain('Южный');
    expect(text.replace(/\s+/g, ' ')).toContain('Клиент просит перезвонить после 18:00; документы передаст курьером в пятницу.');

    const doc = await PDFDocument.load(out);
    const form = doc.getForm();
    const fonts = form.acroForm.dict.lookup(PDFName.of('DR'), PDFDict).lookup(PDFName.of('Font'), PDFDict);
    for (const name of ['full_name', 'snils', 'notes', 'city', 'branch']) {
      const da = form.getField(name).acroField.getDefaultAppearance() ?? '';
      const font = /\/(\S+)\s+[\d.]+\s+Tf/.exec(da)?.[1];
      expect(font, `${name}: ${da}`).toBeDefined();
      expect(fonts.get(PDFName.of(font!)), `${name}'s /DA font ${font} is in /DR`).toBeDefined();
    }
    expect((form.getField('agree') as PDFCheckBox).isChecked()).toBe(true);
    expect(String(form.getField('kind').acroField.dict.get(PDFName.of('V')))).toBe('/old');

    // LibreOffice opens the filled form (Draw's PDF import) and shows the values too.
    const viaLibreOffice = await libreOfficePdfText(out);
    expect(viaLibreOffice).toContain('Смирнов Алексей Викторович');
    expect(viaLibreOffice).toContain('11223344595');
  }, 180_000);

  it('takes free text only in an editable combo box, and blanks a prefilled field with value: ""', async () => {
    // LibreOffice's combo box is not editable: a text that is not an option is refused, named.
    const notEditable = await failure(fillPdf(await libreOfficeForm(), 'lo.pdf', meta([{ pdf: 'branch', value: '{branch}' }]), data({ branch: 'Северо-Западный' })));
    expect(notEditable.code).toBe('TEMPLATE_INVALID');
    expect(notEditable.message).toContain('"Северо-Западный" is not one of the dropdown\'s options (Центральный, Южный) and the combo box is not editable');

    const editable = await madeForm((doc) => {
      const combo = doc.getForm().createDropdown('branch');
      combo.addOptions(['Central', 'South']);
      combo.enableEditing();
      combo.addToPage(doc.getPage(0), { x: 50, y: 700, width: 200, height: 20 });
    });
    const out = await fillPdf(editable, 'combo.pdf', meta([{ pdf: 'branch', value: '{branch}' }]), data({ branch: 'Северо-Западный' }));
    expect(await pdfText(out)).toContain('Северо-Западный');

    const before = await PDFDocument.load(await libreOfficeForm());
    expect(before.getForm().getTextField('full_name').getText()).toBe('Иванов');
    const blanked = await fillPdf(await libreOfficeForm(), 'lo.pdf', meta([{ pdf: 'full_name', value: '' }]), data({}));
    expect((await PDFDocument.load(blanked)).getForm().getTextField('full_name').getText() ?? '').toBe('');
    expect(await pdfText(blanked)).not.toContain('Иванов');
  });

  it('leaves a radio group unselected when the field has no value or maps to ""', async () => {
    const m = meta([{ pdf: 'kind', field: 'kind', options: { new: 'new', old: '' } }]);
    for (const values of [{}, { kind: "old" }] as Record<string, FieldValue>[]) {
      const doc = await PDFDocument.load(await fillPdf(await libreOfficeForm(), 'lo.pdf', m, data(values)));
      expect(String(doc.getForm().getField('kind').acroField.dict.get(PDFName.of('V')))).toBe('/Off');
    }
  });

  it('selects a list box option by the option label of an enum', async () => {
    const doc = await PDFDocument.load(await fillPdf(await libreOfficeForm(), 'lo.pdf', meta([{ pdf: 'city', field: 'city' }]), data({ city: 'msk' })));
    expect(doc.getForm().getOptionList('city').getSelected()).toEqual(['Москва']);
  });
});

describe('comb fields and maxLength', () => {
  const combForm = () =>
    madeForm((doc) => {
      const form = doc.getForm();
      for (const [name, cells, y] of [['snils', 11, 700], ['birth', 8, 660]] as const) {
        const f = form.createTextField(name);
        f.setMaxLength(cells);
        f.enableCombing();
        f.addToPage(doc.getPage(0), { x: 50, y, width: cells * 16, height: 20 });
      }
    });

  it('lists every field a value is too long for, as a template error, instead of crashing on the first', async () => {
    const err = await failure(fillPdf(await combForm(), 'comb.pdf', meta([{ pdf: 'snils', value: '{snils}' }, { pdf: 'birth', value: '{birth_date | date}' }]), data({ snils: '112-233-445 95', birth_date: '1985-03-14' })));
    expect(err.code).toBe('TEMPLATE_INVALID');
    expect(err.message).toContain('PDF field "snils" takes at most 11 characters (11 cells); «112-233-445 95» has 14');
    expect(err.message).toContain('PDF field "birth" takes at most 8 characters (8 cells); «14.03.1985» has 10');
    expect(err.hint).toContain('digits');
  });

  it('fills them one character a cell with the digits and compact-date filters', async () => {
    const out = await fillPdf(await combForm(), 'comb.pdf', meta([{ pdf: 'snils', value: '{snils | digits}' }, { pdf: 'birth', value: '{birth_date | date:"ddMMyyyy"}' }]), data({ snils: '112-233-445 95', birth_date: '1985-03-14' }));
    const doc = await PDFDocument.load(out);
    expect(doc.getForm().getTextField('snils').getText()).toBe('11223344595');
    expect(doc.getForm().getTextField('birth').getText()).toBe('14031985');
    // One glyph a cell: poppler reads the cells apart.
    expect((await pdfText(out)).replace(/\s+/g, '')).toContain('11223344595');
  });
});

describe('text that does not fit its box', () => {
  const boxes = () =>
    madeForm((doc) => {
      const form = doc.getForm();
      const date = form.createTextField('issue_date');
      date.addToPage(doc.getPage(0), { x: 50, y: 700, width: 43, height: 14 });
      date.setFontSize(8);
      const name = form.createTextField('name');
      name.addToPage(doc.getPage(0), { x: 50, y: 650, width: 60, height: 14 });
      name.setFontSize(10);
      const story = form.createTextField('story');
      story.enableMultiline();
      story.addToPage(doc.getPage(0), { x: 50, y: 500, width: 300, height: 60 });
      story.setFontSize(0); // auto: pdf-lib alone would pick a size as large as the box allows
    });

  it('shrinks a value that is a little too wide and wraps a multi-line one, so all of it shows', async () => {
    const story = 'Тягач Scania с полуприцепом двигался по правой полосе; автомобиль Toyota резко перестроился вправо перед ним и затормозил.';
    const out = await fillPdf(await boxes(), 'boxes.pdf', meta([{ pdf: 'issue_date', value: '{birth_date | date}' }, { pdf: 'story', value: '{notes}' }]), data({ birth_date: '2020-07-02', notes: story }));
    const doc = await PDFDocument.load(out);
    const size = (n: string) => Number(/([\d.]+)\s+Tf/.exec(doc.getForm().getTextField(n).acroField.getDefaultAppearance() ?? '')?.[1]);
    expect(size('issue_date')).toBeLessThan(8);
    expect(size('issue_date')).toBeGreaterThanOrEqual(6);
    expect(size('story')).toBeGreaterThanOrEqual(6);
    const text = await pdfText(out);
    expect(text).toContain('02.07.2020');
    expect(text.replace(/\s+/g, ' ')).toContain(story);
  });

  it('refuses what does not fit even at the floor size, naming every field, value and box', async () => {
    const long = 'Общество с ограниченной ответственностью «ТрансЛогистик»';
    const err = await failure(fillPdf(await boxes(), 'boxes.pdf', meta([{ pdf: 'name', value: '{full_name}' }, { pdf: 'story', value: '{notes}' }]), data({ full_name: long, notes: 'слово '.repeat(400) })));
    expect(err.code).toBe('RENDER_OVERFLOW');
    expect(err.message).toContain('2 values do not fit the form');
    expect(err.message).toContain(`PDF field "name" (61×15 pt): «${long}» does not fit even at 6 pt (202 pt of width at 6 pt, room for 57)`);
    expect(err.message).toMatch(/PDF field "story" \(301×61 pt, multi-line\): «слово слово.*» does not fit even at 6 pt \(\d+ lines at 6 pt, room for \d+\)/);
  });
});

describe('checkboxes and radio groups as generators leave them', () => {
  it('shows a checkbox without an appearance stream as ticked, not only stores it', async () => {
    const bytes = await madeForm((doc) => {
      const box = doc.getForm().createCheckBox('agree');
      box.addToPage(doc.getPage(0), { x: 50, y: 700, width: 12, height: 12 });
      // As some generators write it: no /AP and no /AS, the look left to the viewer.
      for (const w of box.acroField.getWidgets()) {
        w.dict.delete(PDFName.of('AP'));
        w.dict.delete(PDFName.of('AS'));
      }
    });
    const doc = await PDFDocument.load(await fillPdf(bytes, 'box.pdf', meta([{ pdf: 'agree', field: 'agree' }]), data({ agree: true })));
    const box = doc.getForm().getCheckBox('agree');
    const widget = box.acroField.getWidgets()[0]!;
    expect(box.isChecked()).toBe(true);
    expect(String(widget.getAppearanceState())).toBe(String(box.acroField.dict.get(PDFName.of('V'))));
    expect(widget.getAppearances()?.normal).toBeInstanceOf(PDFDict); // an on and an off look
  });

  it('fills a radio group from a yes/no field through its options', async () => {
    const bytes = await madeForm((doc) => {
      const group = doc.getForm().createRadioGroup('married');
      group.addOptionToPage('Да', doc.getPage(0), { x: 50, y: 700, width: 12, height: 12 });
      group.addOptionToPage('Нет', doc.getPage(0), { x: 80, y: 700, width: 12, height: 12 });
    });
    const m = meta([{ pdf: 'married', field: 'married', options: { true: 'Да', false: 'Нет' } }]);
    const yes = await PDFDocument.load(await fillPdf(bytes, 'r.pdf', m, data({ married: true })));
    expect(yes.getForm().getRadioGroup('married').getSelected()).toBe('Да');
    const no = await PDFDocument.load(await fillPdf(bytes, 'r.pdf', m, data({ married: false })));
    expect(no.getForm().getRadioGroup('married').getSelected()).toBe('Нет');
  });
});

describe('protected and hybrid forms', () => {
  const simple = () =>
    madeForm((doc) => {
      doc.getForm().createTextField('full_name').addToPage(doc.getPage(0), { x: 50, y: 700, width: 300, height: 20 });
    });
  const m = meta([{ pdf: 'full_name', value: '{full_name}' }]);

  it('fills a form encrypted with an owner password only (qpdf --encrypt), and refuses one that needs a password in our words', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'plain.pdf'), await simple());
    await run('qpdf', ['--encrypt', '', 'owner-secret', '256', '--', path.join(dir, 'plain.pdf'), path.join(dir, 'owner.pdf')]);
    await run('qpdf', ['--encrypt', 'user-secret', 'owner-secret', '256', '--', path.join(dir, 'plain.pdf'), path.join(dir, 'user.pdf')]);

    const out = await fillPdf(await readFile(path.join(dir, 'owner.pdf')), 'owner.pdf', m, data({ full_name: 'Смирнов Алексей' }));
    expect(await pdfText(out)).toContain('Смирнов Алексей');

    const err = await failure(fillPdf(await readFile(path.join(dir, 'user.pdf')), 'user.pdf', m, data({ full_name: 'Смирнов Алексей' })));
    expect(err.code).toBe('TEMPLATE_ENCRYPTED');
    expect(err.message).toBe('user.pdf is encrypted with a password, so its fields cannot be filled.');
    expect(err.hint).toContain('qpdf --decrypt');
    expect(`${err.message} ${err.hint}`).not.toContain('ignoreEncryption');
  });

  it('fills the same form again for the next recipient from the kept font subset and shaping, readable the same', async () => {
    const form = await simple();
    const values = data({ full_name: 'Тягач Scania с полуприцепом' });
    const first = await fillPdf(form, 'again.pdf', m, values);
    const second = await fillPdf(form, 'again.pdf', m, values);
    for (const out of [first, second]) expect(await pdfText(out)).toContain('Тягач Scania с полуприцепом');
    // Other glyphs: another subset, not the kept one.
    expect(await pdfText(await fillPdf(form, 'again.pdf', m, data({ full_name: 'Жёлтый фургон Volvo' })))).toContain('Жёлтый фургон Volvo');
  });

  it('fills the AcroForm of an XFA hybrid and drops the XFA without pdf-lib printing to the console', async () => {
    // Kept on load and save: without preserveXFA pdf-lib's own save() drops the XFA again, and the
    // "hybrid" would be a plain form.
    const doc = await PDFDocument.load(await simple(), { preserveXFA: true });
    const xfa = doc.context.stream('<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template/></xdp:xdp>');
    doc.getForm().acroForm.dict.set(PDFName.of('XFA'), doc.context.register(xfa));
    const hybrid = Buffer.from(await doc.save());
    expect((await PDFDocument.load(hybrid, { preserveXFA: true })).getForm().hasXFA()).toBe(true);
    const warn = vi.spyOn(console, 'warn');
    const out = await fillPdf(hybrid, 'hybrid.pdf', m, data({ full_name: 'Смирнов Алексей' }));
    expect(warn).not.toHaveBeenCalled();
    expect(await pdfText(out)).toContain('Смирнов Алексей');
    warn.mockRestore();
    // Read back keeping XFA: a plain load would drop it itself and the check would prove nothing.
    const filled = await PDFDocument.load(out, { preserveXFA: true });
    expect(filled.getForm().acroForm.dict.get(PDFName.of('XFA'))).toBeUndefined();
    expect(out.includes('xdp:xdp')).toBe(false);
    expect(filled.getForm().getField('full_name')).toBeInstanceOf(PDFTextField);
  });
});
