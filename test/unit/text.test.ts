import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RenderData } from '../../src/documents/evaluate.js';
import { renderText } from '../../src/documents/text.js';
import { fieldSchemasDir } from '../../src/paths.js';
import { loadSchemaFile } from '../../src/schemas/load.js';

// Handlebars subjects and bodies with the document filters as helpers, on deal v2's real fields.

const schema = loadSchemaFile(path.join(fieldSchemasDir, 'deal', 'v2.yaml')).schema!;
const data = (values: RenderData['values']): RenderData => ({
  values,
  fields: schema.fields,
  specials: { $ref: 'DL-2026-00042', $title: 'Автокредит', $today: '2026-11-21', $recipient_name: 'АО «Банк Северный»', $recipient_key: 'bank-sever', $schema_version: 2 },
  lang: 'ru',
});

describe('email templates (Handlebars)', () => {
  const d = data({ borrower_last_name: 'Смирнов', loan_amount: '1500000.00', has_criminal_record: false, borrower_birth_date: '1979-06-20', marital_status: 'married' });

  it('shows values as staff see them and applies the same filters as documents', () => {
    const subject = renderText('[{{$ref}}] Заявка: {{borrower_last_name}}, {{money loan_amount "int"}} ₽', d);
    expect(subject).toBe('[DL-2026-00042] Заявка: Смирнов, 1\u00a0500\u00a0000 ₽');
    const body = renderText('Сумма: {{loan_amount}} ({{words loan_amount}}).\nДата рождения: {{date borrower_birth_date "long"}}; судимость: {{yesno has_criminal_record}}. {{tick marital_status "married"}} в браке.\n{{date $today "long"}}', d);
    expect(body).toBe('Сумма: 1\u00a0500\u00a0000,00 (Один миллион пятьсот тысяч рублей 00 копеек).\nДата рождения: 20 июня 1979 г.; судимость: нет. ☒ в браке.\n21 ноября 2026 г.');
  });

  it('escapes values in HTML bodies', () => {
    const html = renderText('<p>{{borrower_last_name}}</p>', data({ borrower_last_name: '<script>alert(1)</script>' }), { html: true });
    expect(html).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
  });

  it('supports conditions with the condition filters', () => {
    const t = '{{#if (is marital_status "married")}}Супруг(а) — созаёмщик.{{else}}Без созаёмщика.{{/if}}';
    expect(renderText(t, d)).toBe('Супруг(а) — созаёмщик.');
    expect(renderText(t, data({ marital_status: 'single' }))).toBe('Без созаёмщика.');
  });

  it('lists every missing value and accepts defaults', () => {
    expect(() => renderText('{{borrower_first_name}} {{money loan_term_months}} {{default borrower_middle_name "—"}}', d)).toThrow(
      /needs values the record does not have: \{\{borrower_first_name\}\}, \{\{money loan_term_months\}\}/,
    );
    expect(renderText('{{default borrower_middle_name "—"}}', d)).toBe('—');
  });

  it('reports broken syntax clearly', () => {
    expect(() => renderText('Hello {{#if}}', d, { name: 'subject.hbs' })).toThrow(/subject\.hbs: /);
  });
});

describe('conditions look at values, not at their wrappers', () => {
  it('treats false, empty text and missing values as false in {{#if}} and {{#unless}}', () => {
    const d = data({ has_criminal_record: false, borrower_middle_name: '', coborrower_present: true });
    expect(renderText('{{#if has_criminal_record}}да{{else}}нет{{/if}}', d)).toBe('нет');
    expect(renderText('{{#if coborrower_present}}да{{else}}нет{{/if}}', d)).toBe('да');
    expect(renderText('{{#unless borrower_middle_name}}без отчества{{/unless}}', d)).toBe('без отчества');
    expect(renderText('{{#if borrower_first_name}}x{{else}}пусто{{/if}}', d)).toBe('пусто');
  });
});
