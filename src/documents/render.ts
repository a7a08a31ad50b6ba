import type { App } from '../app.js';
import { recordSchemaContext, sectionParty, showFields } from '../schemas/fields.js';
import type { FieldValue } from '../schemas/types.js';
import type { RenderData } from './evaluate.js';
import { renderWithData, type Rendered } from './fill.js';

export { checkSupports, prepareTemplate, renderWithData, type PreparedTemplate, type Rendered, type TemplateCache } from './fill.js';

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

export async function renderTemplate(app: App, ref: string, template: string, recipient?: string): Promise<Rendered> {
  const { data, type, version } = await renderData(app, ref, recipient);
  return renderWithData(template, data, type, version);
}
