import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ChecklistSpec } from '../checklists/spec.js';
import { DossierError } from '../errors.js';

// A recipient's package profile, templates/<party key>/package.yaml (or templates/<party kind>/ for
// any party of a kind, e.g. every lawyer): which documents to render, which attachment categories
// to add, how files are named, the email's subject and body, and the largest email it accepts.
// Names, subject and bodies are Handlebars with the document filters ({{$ref}}, {{money loan_amount}}).

export const PackageProfile = z.strictObject({
  title: z.string().min(1),
  type: z.string().min(1),
  documents: z.array(z.strictObject({ template: z.string().min(1), name: z.string().min(1) })).default([]),
  attachments: z.array(z.strictObject({ category: z.string().min(1), folder: z.string().default('') })).default([]),
  archive: z.string().min(1),
  email: z.strictObject({
    subject: z.string().min(1),
    text: z.string().min(1), // a .hbs file beside the profile
    html: z.string().optional(),
    /**
     * How a package split over several emails names each one ($part, $parts): appended to the
     * subject in brackets and given to the bodies as $part_note. The default is Russian, as every
     * shipped profile is; a recipient that reads another language sets its own.
     */
    part_note: z.string().min(1).default('часть {{$part}} из {{$parts}}'),
  }),
  max_email_bytes: z.number().int().min(100_000).default(10 * 1024 * 1024),
  /** What the recipient requires (issue 17, src/checklists/spec.ts). */
  checklist: ChecklistSpec.optional(),
});
export type PackageProfile = z.infer<typeof PackageProfile> & { dir: string; file: string };

/**
 * package.yaml read and parsed once per process while the file is unchanged (size and mtime): a
 * deal's 15 recipients read their profiles twice each (which one applies, then the profile), and
 * YAML parsing was 3% of building their packages.
 */
const parsed = new Map<string, { stamp: string; value: unknown }>();
function readYaml(file: string): unknown {
  const st = statSync(file);
  const stamp = `${st.size}:${st.mtimeMs}`;
  const hit = parsed.get(file);
  if (hit?.stamp === stamp) return structuredClone(hit.value);
  const value: unknown = YAML.parse(readFileSync(file, 'utf8'));
  parsed.set(file, { stamp, value });
  return structuredClone(value);
}

export function profileFor(root: string, party: { key: string; kind: string; profile?: string | null }, type: string): PackageProfile {
  const candidates = [path.join(root, party.key, 'package.yaml'), path.join(root, party.kind, 'package.yaml'), ...(party.profile ? [path.join(root, party.profile, 'package.yaml')] : [])];
  const file = candidates.find((f) => existsSync(f) && (readYaml(f) as { type?: string } | null)?.type === type);
  if (!file) {
    throw new DossierError('PROFILE_NOT_FOUND', `There is no ${type} package profile for ${party.key} (${party.kind}).`, {
      hint: `Create ${path.relative(process.cwd(), candidates[0]!)} (or one for every ${party.kind}: ${path.relative(process.cwd(), candidates[1]!)}), or give the party an existing one: dossier party edit ${party.key} --profile <folder>; templates/README.md describes it.`,
    });
  }
  return loadProfile(file);
}

export function loadProfile(file: string): PackageProfile {
  let raw: unknown;
  try {
    raw = readYaml(file);
  } catch (err) {
    throw new DossierError('PROFILE_INVALID', `${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const r = PackageProfile.safeParse(raw);
  if (!r.success) {
    throw new DossierError('PROFILE_INVALID', `${file}:\n  - ${r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('\n  - ')}`, { hint: 'See templates/README.md (package profiles).' });
  }
  const dir = path.dirname(file);
  const missing = [...r.data.documents.map((d) => d.template), r.data.email.text, ...(r.data.email.html ? [r.data.email.html] : [])].filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length) throw new DossierError('PROFILE_INVALID', `${file} names files that are not there: ${missing.join(', ')}.`);
  return { ...r.data, dir, file };
}
