import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { App } from '../../app.js';
import { initTemplate, listTemplateFields, type FieldList, type InitResult } from '../../documents/authoring.js';
import { checkTemplates, templateFiles, type LintProblem } from '../../documents/lint.js';
import { renderTemplate } from '../../documents/render.js';
import { DossierError } from '../../errors.js';
import { formatBytes } from '../output.js';

export async function render(app: App, ref: string, o: { template: string; recipient?: string | undefined; out?: string | undefined }) {
  const r = await renderTemplate(app, ref, path.resolve(o.template), o.recipient);
  const out = o.out ?? `${ref}-${path.basename(o.template)}`;
  await writeFile(out, r.bytes);
  return { ref, template: o.template, recipient: o.recipient ?? null, schemaVersion: r.schemaVersion, out, bytes: r.bytes.length };
}

export const renderRendered = (r: Awaited<ReturnType<typeof render>>) =>
  `Wrote ${r.out} (${formatBytes(r.bytes)}) from ${r.template}${r.recipient ? ` for ${r.recipient}` : ''}, ${r.ref} on schema v${r.schemaVersion}.`;

export async function templateCheck(app: App, files: string[]) {
  const list = files.length ? files.map((f) => path.resolve(f)) : templateFiles(app.templatesDir);
  const r = await checkTemplates(app, list);
  if (r.problems.length) {
    throw new DossierError('TEMPLATE_INVALID', `${r.problems.length} problem(s) in ${new Set(r.problems.map((p) => p.file)).size} template(s):\n  - ${r.problems.map(formatLint).join('\n  - ')}`, {
      hint: 'Each line gives the template, where in it, and what is wrong (templates/README.md has the tag syntax).',
      details: { problems: r.problems },
    });
  }
  return { files: r.files.map((f) => path.relative(process.cwd(), f)), problems: [] as LintProblem[] };
}

const formatLint = (p: LintProblem) => `${path.relative(process.cwd(), p.file)}: ${p.where}: ${p.message}`;

export const renderCheck = (r: { files: string[] }) => `OK: ${r.files.length} template(s) checked against their schema versions, no problems.`;

export async function templateFields(_app: unknown, file: string): Promise<FieldList> {
  return listTemplateFields(path.resolve(file));
}

export function renderFields(r: FieldList): string {
  const lines = [`${path.relative(process.cwd(), r.file)}: ${r.fields.length} field(s)`];
  for (const f of r.fields) {
    const facts = [f.kind, f.options.length ? `options: ${f.options.join(' | ')}` : null, f.maxLength ? `at most ${f.maxLength} characters` : null, f.box, f.page ? `page ${f.page}` : null].filter(Boolean);
    lines.push(`  ${f.name}  (${facts.join('; ')})`);
  }
  for (const n of r.notes) lines.push(`Note: ${n}`);
  return lines.join('\n');
}

export async function templateInit(app: App, file: string, o: { recipient: string }): Promise<InitResult> {
  return initTemplate(app, path.resolve(file), o.recipient);
}

export function renderInit(r: InitResult): string {
  return [
    r.converted ? `Converted ${path.relative(process.cwd(), r.converted)} to ${path.relative(process.cwd(), r.template)} with LibreOffice (once; the .docx is the template from now on).` : null,
    `Wrote ${path.relative(process.cwd(), r.sidecar)}: ${r.type} v${r.version}, ${r.mapped} field(s) mapped by name, ${r.unmapped} listed in it to map.`,
    `Next: edit it, then dossier template check ${path.relative(process.cwd(), r.template)}`,
  ]
    .filter(Boolean)
    .join('\n');
}
