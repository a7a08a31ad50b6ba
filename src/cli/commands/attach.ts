import { stat } from 'node:fs/promises';
import type { Actor, App } from '../../app.js';
import { DossierError } from '../../errors.js';
import { packageLimits, type PackageLimit } from '../../packages/limits.js';
import { attachFiles, checkCategory, detachAttachment, type AttachmentRow, type AttachResult } from '../../records/attachments.js';
import { getRecord } from '../../records/records.js';
import { formatBytes, formatTable } from '../output.js';

export interface AttachOutcome extends AttachResult { warnings: string[] }

/**
 * Attaches files to a record. A scan larger than a package email to one of the record's recipients
 * can carry is refused (it would make every later package fail), unless --force keeps it anyway:
 * then packages leave it out with a warning.
 */
export async function attach(app: App, actor: Actor, o: { ref: string; files: string[]; category: string; force?: boolean | undefined }): Promise<AttachOutcome> {
  checkCategory(app.config, o.category);
  const record = await getRecord(app.db, o.ref);
  const limits = await packageLimits(app, record, o.category);
  const tooBig = new Map<string, { size: number; over: PackageLimit[] }>();
  for (const file of o.files) {
    const size = await stat(file).then((s) => (s.isFile() ? s.size : 0), () => 0); // missing files are reported by attachFiles
    const over = limits.filter((l) => size > l.limit);
    if (over.length) tooBig.set(file, { size, over });
  }
  const describe = (file: string, t: { size: number; over: PackageLimit[] }) =>
    `${file} (${formatBytes(t.size)}) is larger than one package email can carry to ${t.over.map((l) => l.recipient).join(', ')}: ` +
    `emails up to ${formatBytes(t.over[0]!.maxEmailBytes)} (max_email_bytes), which leaves ${formatBytes(t.over[0]!.limit)} for a file once encoded`;
  if (tooBig.size && !o.force) {
    throw new DossierError('ATTACHMENT_TOO_LARGE', `Nothing was attached to ${record.ref}:\n  - ${[...tooBig].map(([f, t]) => describe(f, t)).join('\n  - ')}`, {
      hint: 'Compress or split the scan (e.g. one PDF per document); or attach it with --force to keep it on the record anyway, and packages will leave it out with a warning.',
      details: { files: [...tooBig].map(([file, t]) => ({ file, size: t.size, limits: t.over })) },
    });
  }
  const r = await attachFiles(app.db, app.blobs, app.config, actor, record.ref, o.files, o.category, { oversizeForced: (f) => tooBig.has(f) });
  const warnings = [...tooBig].map(([f, t]) => `${describe(f, t)}; kept (--force): packages to ${t.over.map((l) => l.recipient).join(', ')} will leave it out.`);
  return { ...r, warnings };
}

export function renderAttach(r: AttachOutcome): string {
  const rows = [
    ...r.attached.map((a) => ['attached', a.id, a.file_name, a.content_type, formatBytes(a.size)]),
    ...r.alreadyThere.map((a) => ['already there', a.id, a.file_name, a.content_type, formatBytes(a.size)]),
  ];
  return formatTable(['', '#', 'file', 'type', 'size'], rows, { shrink: [2, 3] }) + r.warnings.map((w) => `\nwarning: ${w}`).join('');
}

export async function detach(app: App, actor: Actor, o: { ref: string; id: string; reason?: string | undefined }): Promise<AttachmentRow & { ref: string }> {
  const id = Number(o.id.replace(/^#/, ''));
  if (!Number.isInteger(id) || id <= 0) throw new DossierError('USAGE', `"${o.id}" is not an attachment number.`, { hint: `\`dossier record show ${o.ref}\` lists the attachments with their numbers.` });
  const row = await detachAttachment(app.db, actor, o.ref, id, o.reason);
  return { ...row, ref: (await getRecord(app.db, o.ref)).ref };
}

export const renderDetach = (r: AttachmentRow & { ref: string }) =>
  `Detached #${r.id} ${r.file_name} (${r.category}) from ${r.ref}. The file stays in the store and in the record's history; packages built from now on leave it out.`;
