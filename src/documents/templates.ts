import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { DossierError } from '../errors.js';

// What a template is, from the sidecar beside it (<template>.yaml): the record type and schema
// versions it supports, and for PDFs the mapping from schema fields to PDF fields or positions.

const FormField = z.strictObject({
  pdf: z.string().min(1),
  value: z.string().optional(), // a text with {tags}
  field: z.string().optional(), // checkbox / radio / dropdown source
  is: z.string().optional(), // checkbox ticked when the field has this value
  options: z.record(z.string(), z.string()).optional(), // enum value → export value / option text
});

const OverlayItem = z.strictObject({
  page: z.number().int().min(1),
  x: z.number(),
  y: z.number(),
  size: z.number().positive().optional(),
  value: z.string().optional(),
  tick: z.string().optional(),
  is: z.string().optional(),
  maxWidth: z.number().positive().optional(),
});

export const TemplateMeta = z
  .strictObject({
    title: z.string().min(1),
    type: z.string().min(1),
    schemas: z.array(z.number().int().positive()).min(1),
    recipient_kind: z.string().optional(),
    mode: z.enum(['form', 'overlay']).optional(),
    flatten: z.boolean().default(false),
    fields: z.array(FormField).default([]),
    overlay: z.array(OverlayItem).default([]),
    // DOCX: Word legacy form fields by name → a field (checkbox: "field" or "field=option") or a text with {tags}
    word_fields: z.record(z.string(), z.string()).default({}),
  })
  .superRefine((m, ctx) => {
    m.fields.forEach((f, i) => {
      // value: '' is a real mapping: it blanks a field the form comes prefilled with.
      if (f.value === undefined && f.field === undefined) ctx.addIssue({ code: 'custom', path: ['fields', i], message: `"${f.pdf}" needs value (text with tags) or field` });
    });
    m.overlay.forEach((o, i) => {
      if (!o.value === !o.tick) ctx.addIssue({ code: 'custom', path: ['overlay', i], message: 'each overlay item has either value or tick' });
    });
  });
export type TemplateMeta = z.infer<typeof TemplateMeta>;

export type TemplateFormat = 'docx' | 'pdf';

export function templateFormat(file: string): TemplateFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.docx') return 'docx';
  if (ext === '.pdf') return 'pdf';
  if (ext === '.doc' || ext === '.rtf') {
    throw new DossierError('TEMPLATE_INVALID', `${file} is an old Word format (${ext}); Dossier fills .docx.`, { hint: `Convert it once with LibreOffice: dossier template init ${file} --recipient <party> (writes the .docx and its sidecar).` });
  }
  throw new DossierError('TEMPLATE_NOT_FOUND', `${file} is not a .docx or .pdf template.`);
}

export function loadTemplateMeta(file: string): TemplateMeta {
  const sidecar = `${file}.yaml`;
  if (!existsSync(file)) throw new DossierError('TEMPLATE_NOT_FOUND', `There is no template ${file}.`, { hint: 'See the templates/ folder, or `dossier template check` for the list.' });
  templateFormat(file); // an old Word format is refused with the way forward before anything else
  if (!existsSync(sidecar)) {
    throw new DossierError('TEMPLATE_INVALID', `${file} has no description beside it (${path.basename(sidecar)}).`, {
      hint: 'Create it with the record type and schema versions the template supports (templates/README.md).',
    });
  }
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(sidecar, 'utf8'));
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? '';
    // The usual slip: a title such as «Анкета: физ. лицо» written without quotes.
    const colon = /nested mappings|implicit (map )?keys|mapping values/i.test(message);
    throw new DossierError('TEMPLATE_INVALID', `${sidecar}: ${message}`, {
      hint: colon ? 'A value that contains ": " (a title, a text) must be in quotes: title: "Анкета: физическое лицо".' : 'See templates/README.md for the format.',
    });
  }
  const r = TemplateMeta.safeParse(raw);
  if (!r.success) {
    throw new DossierError('TEMPLATE_INVALID', `${sidecar}:\n  - ${r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('\n  - ')}`, {
      hint: 'See templates/README.md for the format.',
    });
  }
  if (templateFormat(file) === 'pdf' && !r.data.mode) throw new DossierError('TEMPLATE_INVALID', `${sidecar}: a PDF template needs mode: form or overlay.`);
  return r.data;
}
