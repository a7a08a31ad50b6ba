import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DossierError } from '../errors.js';
import { renderDocx } from './docx.js';
import type { RenderData } from './evaluate.js';
import { fillPdf } from './pdf.js';
import { loadTemplateMeta, templateFormat, type TemplateFormat, type TemplateMeta } from './templates.js';

// Filling one template from data already gathered: no database, so that the render threads
// (render-pool.ts) load only the document libraries.

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

/** A template read and described once (its bytes and its sidecar), for every render of a batch. */
export interface PreparedTemplate { bytes: Buffer; meta: TemplateMeta; format: TemplateFormat }
export type TemplateCache = Map<string, PreparedTemplate>;

export function prepareTemplate(template: string, cache?: TemplateCache): PreparedTemplate {
  const hit = cache?.get(template);
  if (hit) return hit;
  const prepared = preparedFromDisk(template);
  cache?.set(template, prepared);
  return prepared;
}

// Across batches (a worker renders all day), a template is read again only when it or its sidecar
// changed on disk: two stat calls instead of reading the file and parsing its YAML.
const onDisk = new Map<string, { stamp: string; prepared: PreparedTemplate }>();
const MAX_ON_DISK = 200;

function stampOf(file: string): string {
  const st = statSync(file, { throwIfNoEntry: false });
  return st ? `${st.mtimeMs}:${st.size}:${st.ino}` : 'missing';
}

function preparedFromDisk(template: string): PreparedTemplate {
  const stamp = `${stampOf(template)}|${stampOf(`${template}.yaml`)}`;
  const known = onDisk.get(template);
  if (known && known.stamp === stamp) return known.prepared;
  const format = templateFormat(template);
  const meta = loadTemplateMeta(template);
  const prepared = { bytes: readFileSync(template), meta, format };
  if (onDisk.size >= MAX_ON_DISK) onDisk.delete(onDisk.keys().next().value!);
  onDisk.set(template, { stamp, prepared });
  return prepared;
}

/** Fills a template from data already gathered (a package renders several from one section). */
export async function renderWithData(template: string, data: RenderData, type: string, version: number, cache?: TemplateCache): Promise<Rendered> {
  const { bytes, meta, format } = prepareTemplate(template, cache);
  checkSupports(meta, template, type, version);
  const name = path.basename(template);
  const out = format === 'docx' ? renderDocx(bytes, name, data, meta.word_fields) : await fillPdf(bytes, name, meta, data);
  return { bytes: out, format, meta, template, schemaVersion: version };
}
