import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { App } from '../app.js';
import { DossierError } from '../errors.js';
import { recordSchemaContext, sectionParty, showFields } from '../schemas/fields.js';
import type { FieldValue } from '../schemas/types.js';
import { renderDocx } from './docx.js';
import type { RenderData } from './evaluate.js';
import { fillPdf } from './pdf.js';
import { loadTemplateMeta, templateFormat, type TemplateFormat, type TemplateMeta } from './templates.js';

// One template filled from one record: the base section, or a recipient's effective values.

export function todayIso(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}`;
}

export async function renderData(app: App, ref: string, recipient?: string): Promise<{ data: RenderData; type: string; version: number }> {
  const ctx = await recordSchemaContext(app, app.db, ref);
  const party = sectionParty(ctx, recipient);
  const view = await showFields(app, ref, { recipient, all: true });
  const values: Record<string, FieldValue> = {};
  for (const v of view.values) if (v.provenance !== 'empty' && !v.notInVersion) values[v.field] = v.value;
  return {
    type: ctx.record.type,
    version: ctx.schema.version,
    data: {
      values,
      fields: ctx.schema.fields,
      specials: {
        $ref: ctx.record.ref,
        $title: ctx.record.title ?? '',
        $today: todayIso(),
        $recipient_name: party?.name ?? null,
        $recipient_key: party?.key ?? null,
        $schema_version: ctx.schema.version,
      },
      lang: 'ru',
    },
  };
}

export interface Rendered { bytes: Buffer; format: TemplateFormat; meta: TemplateMeta; template: string; schemaVersion: number }

export function checkSupports(meta: TemplateMeta, template: string, type: string, version: number): void {
  if (meta.type !== type) {
    throw new DossierError('TEMPLATE_SCHEMA_MISMATCH', `${template} is a ${meta.type} template and the record is a ${type}.`);
  }
  if (!meta.schemas.includes(version)) {
    throw new DossierError('TEMPLATE_SCHEMA_MISMATCH', `${template} supports ${type} schema ${meta.schemas.map((v) => 'v' + v).join(', ')}; the record is on v${version}.`, {
      hint: `Migrate the record (dossier record migrate … --to v${Math.max(...meta.schemas)}) or update the template and add v${version} to its schemas.`,
    });
  }
}

export async function renderTemplate(app: App, ref: string, template: string, recipient?: string): Promise<Rendered> {
  const { data, type, version } = await renderData(app, ref, recipient);
  return renderWithData(template, data, type, version);
}

/** Fills a template from data already gathered (a package renders several from one section). */
export async function renderWithData(template: string, data: RenderData, type: string, version: number): Promise<Rendered> {
  const format = templateFormat(template);
  const meta = loadTemplateMeta(template);
  checkSupports(meta, template, type, version);
  const bytes = readFileSync(template);
  const name = path.basename(template);
  const out = format === 'docx' ? renderDocx(bytes, name, data) : await fillPdf(bytes, name, meta, data);
  return { bytes: out, format, meta, template, schemaVersion: version };
}
