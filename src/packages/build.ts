import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, link, mkdir, rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import type { Actor, App } from '../app.js';
import { withTransaction } from '../db/pool.js';
import { renderData } from '../documents/render.js';
import { openRenderer, renderThreads, type Renderer } from '../documents/render-pool.js';
import { renderText } from '../documents/text.js';
import type { RenderData } from '../documents/evaluate.js';
import { DossierError } from '../errors.js';
import { listAttachments, type AttachmentRow } from '../records/attachments.js';
import { recordEvent } from '../records/events.js';
import { recordParties, type LinkedParty } from '../records/parties.js';
import { getRecord, type RecordRow } from '../records/records.js';
import { FsBlobStore } from '../storage/blobs.js';
import { planParts, safeFileName, uniqueNames, worthCompressing, writeZip, type ZipEntry } from './zip.js';
import { profileFor, type PackageProfile } from './profile.js';

// One package per recipient: its documents rendered from its section of the record, the record's
// scans of the categories its profile asks for (streamed from the blob store, stored not deflated
// when already compressed), a manifest (manifest.json and a readable index) — zipped, split over
// several zips when one email could not carry it, stored in the blob store and recorded.

/** Roles whose parties get packages with --all. */
export const PACKAGE_ROLES = ['recipient', 'lawyer'];
const INDEX_NAME = 'ОПИСЬ.txt';
/** Base64 makes an attachment 4/3 bigger, plus line breaks and the message around it. */
export const zipLimit = (maxEmailBytes: number) => Math.floor((maxEmailBytes - 64 * 1024) / 1.37);

export interface ManifestFile {
  name: string;
  size: number;
  sha256: string;
  part: number;
  source: { template: string; schemaVersion: number } | { attachment: number; category: string; originalName: string; contentType: string };
}
export interface Manifest {
  record: string;
  recipient: { key: string; name: string; kind: string };
  builtAt: string;
  builtBy: string;
  schemaVersion: number;
  profile: string;
  parts: number;
  files: ManifestFile[];
}

export interface BuiltPart { packageId: number; part: number; parts: number; fileName: string; path: string; sha256: string; size: number }
/** A scan left out because it alone is larger than one email to this recipient can carry. */
export interface OmittedScan { attachment: number; file: string; size: number; limit: number }
export interface BuiltPackage { ref: string; recipient: string; recipientName: string; buildId: string; profile: PackageProfile; data: RenderData; parts: BuiltPart[]; manifest: Manifest; omitted: OmittedScan[] }

export interface BuildOptions {
  recipients: string[] | 'all';
  outDir?: string | undefined;
  onProgress?: (recipient: string, done: number, total: number) => void;
  /** Build the zips (in outDir) but record nothing: no blobs, no rows, no events (pack send --dry-run). */
  dryRun?: boolean;
}

/**
 * The build time as a person reads it, in the server's time zone (TZ; the zips' entry times use it
 * too): «21 ноября 2026 г. в 14:05 (GMT+3)».
 */
export function readableTime(iso: string, timeZone = process.env.TZ || undefined): string {
  const when = new Date(iso);
  const date = new Intl.DateTimeFormat('ru-RU', { timeZone, day: 'numeric', month: 'long', year: 'numeric' }).format(when);
  const time = new Intl.DateTimeFormat('ru-RU', { timeZone, hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }).format(when);
  const [clock, ...zone] = time.split(' ');
  return `${date} в ${clock}${zone.length ? ` (${zone.join(' ')})` : ''}`;
}

/** ОПИСЬ.txt: for people at the bank, in Windows line endings (Notepad), categories by their names. */
export function indexText(m: Manifest, categoryLabel: (key: string) => string): string {
  const lines = [
    `Опись пакета документов / Package index`,
    `Дело: ${m.record}    Получатель: ${m.recipient.name} (${m.recipient.key})`,
    `Сформирован: ${readableTime(m.builtAt)} (${m.builtBy}), схема v${m.schemaVersion}${m.parts > 1 ? `, частей: ${m.parts}` : ''}`,
    '',
    ...m.files.flatMap((f, i) => {
      const src = 'template' in f.source ? `шаблон ${f.source.template}, схема v${f.source.schemaVersion}` : `вложение №${f.source.attachment} («${categoryLabel(f.source.category)}»), исходное имя «${f.source.originalName}»`;
      return [`${i + 1}. ${f.name}${m.parts > 1 ? ` [часть ${f.part}]` : ''}`, `   размер ${f.size} байт, sha256 ${f.sha256}`, `   ${src}`];
    }),
    '',
    'Контрольные суммы SHA-256 позволяют проверить, что файлы не изменены.',
  ];
  // One line ending throughout: a name or label carrying its own LF must not mix styles.
  return lines.map((l) => l.replace(/\r?\n/g, ' ')).join('\r\n') + '\r\n';
}

export async function recipientsFor(app: App, record: RecordRow, which: string[] | 'all'): Promise<LinkedParty[]> {
  const linked = await recordParties(app.db, record.id);
  if (which === 'all') {
    const seen = new Set<string>();
    const list = linked.filter((p) => PACKAGE_ROLES.includes(p.role) && !seen.has(p.key) && seen.add(p.key));
    if (!list.length) throw new DossierError('NO_RECIPIENTS', `${record.ref} has no recipients.`, { hint: `Link them: dossier record link ${record.ref} <party> --role recipient.` });
    return list;
  }
  return which.map((key) => {
    const p = linked.find((x) => x.key === key);
    if (!p) throw new DossierError('PARTY_NOT_FOUND', `${key} is not linked to ${record.ref}.`, { hint: `Link it: dossier record link ${record.ref} ${key} --role recipient.` });
    return p;
  });
}

/** A recipient's section and its documents being filled (started for every recipient at once). */
interface Pending { party: LinkedParty; profile: PackageProfile; data: RenderData; version: number; documents: Promise<Buffer>[] }

async function startRecipient(app: App, record: RecordRow, party: LinkedParty, profile: PackageProfile, renderer: Renderer): Promise<Pending> {
  const { data, type, version } = await renderData(app, record.ref, party.key);
  const documents = profile.documents.map((d) => renderer.render(path.join(profile.dir, d.template), data, type, version));
  // Awaited in order later; a failure of a later recipient must not go unhandled meanwhile.
  for (const p of documents) p.catch(() => {});
  return { party, profile, data, version, documents };
}

async function buildOne(app: App, actor: Actor, record: RecordRow, pending: Pending, attachments: AttachmentRow[], outDir: string, opts: BuildOptions): Promise<BuiltPackage> {
  const { party, profile, data, version } = pending;
  const name = (hbs: string, what: string) => safeFileName(renderText(hbs, data, { name: `${path.basename(profile.file)} ${what}` }));

  // Documents first: rendered in memory (tens of KB), hashed, deflated in the zip.
  const docs: { name: string; bytes: Buffer; template: string }[] = [];
  for (const [i, d] of profile.documents.entries()) {
    const bytes = await pending.documents[i]!;
    docs.push({ name: name(d.name, `name of ${d.template}`), bytes, template: path.relative(app.templatesDir, path.join(profile.dir, d.template)) });
  }
  // Then the scans of the profile's categories, in the order attached; one no email to this
  // recipient could carry (kept with `attach --force`) is left out and reported, not fatal.
  const limit = zipLimit(profile.max_email_bytes);
  const wanted = profile.attachments.flatMap((c) => attachments.filter((a) => a.category === c.category).map((a) => ({ a, folder: c.folder })));
  const omitted: OmittedScan[] = wanted.filter((s) => s.a.size > limit).map((s) => ({ attachment: s.a.id, file: s.a.file_name, size: s.a.size, limit }));
  const scans = wanted.filter((s) => s.a.size <= limit);
  const names = uniqueNames([...docs.map((d) => d.name), ...scans.map((s) => (s.folder ? `${safeFileName(s.folder)}/` : '') + safeFileName(s.a.file_name))]);
  const builtAt = new Date();
  const files: (ManifestFile & { entry: ZipEntry })[] = [
    ...docs.map((d, i) => {
      const sha256 = createHash('sha256').update(d.bytes).digest('hex'); // once: the zip takes it as known
      return {
        name: names[i]!,
        size: d.bytes.length,
        sha256,
        part: 1,
        source: { template: d.template, schemaVersion: version },
        entry: { name: names[i]!, source: d.bytes, size: d.bytes.length, compress: true, date: builtAt, sha256 } satisfies ZipEntry,
      };
    }),
    ...scans.map(({ a }, j) => ({
      name: names[docs.length + j]!,
      size: a.size,
      sha256: a.sha256, // content-addressed: the blob's name is its checksum
      part: 1,
      source: { attachment: a.id, category: a.category, originalName: a.file_name, contentType: a.content_type },
      entry: { name: names[docs.length + j]!, source: () => app.blobs.open(a.sha256), size: a.size, compress: worthCompressing(a.content_type), date: builtAt, sha256: a.sha256 } satisfies ZipEntry,
    })),
  ];
  const plan = planParts(files.map((f, i) => ({ name: f.name, size: f.size, pinFirst: i < docs.length })), zipLimit(profile.max_email_bytes));
  if (plan.oversize.length) {
    throw new DossierError('PACKAGE_FAILED', `${party.key}: ${plan.oversize.join(', ')} alone exceed${plan.oversize.length === 1 ? 's' : ''} the largest email ${party.name} accepts (${profile.max_email_bytes} bytes).`, {
      hint: `Compress or split the scan, or raise max_email_bytes in ${path.relative(process.cwd(), profile.file)} if the recipient accepts more.`,
    });
  }
  const parts = plan.parts.length || 1;
  const partOf = new Map(plan.parts.flatMap((names, i) => names.map((n) => [n, i + 1] as const)));
  for (const f of files) f.part = partOf.get(f.name) ?? 1;
  const manifest: Manifest = {
    record: record.ref,
    recipient: { key: party.key, name: party.name, kind: party.kind },
    builtAt: builtAt.toISOString(),
    builtBy: actor.id,
    schemaVersion: version,
    profile: path.relative(app.templatesDir, profile.file),
    parts,
    files: files.map(({ entry: _entry, ...f }) => f),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
  const indexBytes = Buffer.from(indexText(manifest, (key) => app.config.attachments.categories[key]?.ru ?? key));

  const archiveBase = name(profile.archive, 'archive name').replace(/\.zip$/i, '');
  const buildId = randomBytes(6).toString('hex');
  // One folder per recipient: two recipients' archives may well carry the same name.
  const dir = path.join(outDir, party.key);
  await mkdir(dir, { recursive: true });
  const built: Omit<BuiltPart, 'packageId'>[] = [];
  let done = 0;
  const total = files.reduce((n, f) => n + f.size, 0);
  for (let part = 1; part <= parts; part++) {
    const fileName = parts > 1 ? `${archiveBase} (часть ${part} из ${parts}).zip` : `${archiveBase}.zip`;
    const out = path.join(dir, fileName);
    const entries = [
      ...files.filter((f) => f.part === part).map((f) => f.entry),
      { name: 'manifest.json', source: manifestBytes, size: manifestBytes.length, compress: true, date: builtAt },
      { name: INDEX_NAME, source: indexBytes, size: indexBytes.length, compress: true, date: builtAt },
    ];
    const base = done;
    if (opts.dryRun) {
      // A dry run keeps nothing: the zip goes to the packages folder only, never into the store.
      await rm(out, { force: true });
      const zip = await writeZip(entries, out, { onProgress: (d) => opts.onProgress?.(party.key, Math.min(total, base + d), total) });
      done = Math.min(total, done + files.filter((f) => f.part === part).reduce((n, f) => n + f.size, 0));
      built.push({ part, parts, fileName, path: out, sha256: zip.sha256!, size: zip.size });
      continue;
    }
    // Written once, straight into the blob store (mail is built from it later); the file in the
    // packages folder is then a link to the stored bytes, not a second copy of them. Hashed once,
    // by the store (which names it by its sha256).
    const into = new PassThrough();
    const storing = app.blobs.put(into);
    let zip;
    try {
      zip = await writeZip(entries, into, { hashZip: false, onProgress: (d) => opts.onProgress?.(party.key, Math.min(total, base + d), total) });
    } catch (err) {
      into.destroy(err as Error);
      await storing.catch(() => undefined); // the store removes its partial file
      throw err;
    }
    const blob = await storing;
    if (blob.size !== zip.size) throw new DossierError('PACKAGE_FAILED', `${fileName} changed while it was stored (${zip.size} bytes written, ${blob.size} stored).`);
    await exposeBlob(app, blob.sha256, out);
    done = Math.min(total, done + files.filter((f) => f.part === part).reduce((n, f) => n + f.size, 0));
    built.push({ part, parts, fileName, path: out, sha256: blob.sha256, size: blob.size });
  }

  if (opts.dryRun) return { ref: record.ref, recipient: party.key, recipientName: party.name, buildId, profile, data, parts: built.map((b) => ({ ...b, packageId: 0 })), manifest, omitted };
  // Record the package.
  const stored: BuiltPart[] = [];
  await withTransaction(app.db, async (c) => {
    for (const b of built) {
      await c.query("INSERT INTO blobs (sha256, size, content_type) VALUES ($1, $2, 'application/zip') ON CONFLICT DO NOTHING", [b.sha256, b.size]);
      const id = (
        await c.query<{ id: number }>(
          `INSERT INTO packages (record_id, party_id, build_id, part, parts, file_name, sha256, size, manifest, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
          [record.id, party.id, buildId, b.part, b.parts, b.fileName, b.sha256, b.size, JSON.stringify(manifest), actor.id],
        )
      ).rows[0]!.id;
      await recordEvent(c, actor, {
        recordId: record.id,
        partyId: party.id,
        kind: 'package_built',
        field: `package:${party.key}`,
        newValue: { package: id, file: b.fileName, part: b.part, parts: b.parts, size: b.size, sha256: b.sha256, files: manifest.files.filter((f) => f.part === b.part).length, ...(omitted.length ? { omitted: omitted.map((o) => o.file) } : {}) },
      });
      stored.push({ ...b, packageId: id });
    }
  });
  return { ref: record.ref, recipient: party.key, recipientName: party.name, buildId, profile, data, parts: stored, manifest, omitted };
}

/**
 * The stored zip under its own name in the packages folder, for staff to open or hand on: a hard
 * link when the blob store is a folder on the same disk (made read-only, since the link shares
 * the stored bytes), otherwise a copy read from the store.
 */
async function exposeBlob(app: App, sha256: string, out: string): Promise<void> {
  await rm(out, { force: true });
  if (app.blobs instanceof FsBlobStore) {
    const stored = app.blobs.pathOf(sha256);
    try {
      await chmod(stored, 0o444);
      await link(stored, out);
      return;
    } catch (err) {
      if (!['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  await pipeline(await app.blobs.open(sha256), createWriteStream(out, { flags: 'wx' }));
}

export async function buildPackages(app: App, actor: Actor, ref: string, opts: BuildOptions): Promise<BuiltPackage[]> {
  const record = await getRecord(app.db, ref);
  const recipients = await recipientsFor(app, record, opts.recipients);
  const attachments = await listAttachments(app.db, record.id);
  const outDir = opts.outDir ?? path.join(app.home, 'packages', record.ref);
  // Every profile first: one missing profile should not leave half the set.
  const profiles = recipients.map((p) => profileFor(app.templatesDir, p, record.type));
  // Each recipient's documents are filled on the render threads while the packages before it are
  // zipped and stored here; each template is read once per batch (per thread).
  const jobs = profiles.reduce((n, p) => n + p.documents.length, 0);
  const renderer = openRenderer(renderThreads(app.config.templates.renderThreads), jobs);
  try {
    const pending: Pending[] = [];
    for (const [i, p] of recipients.entries()) pending.push(await startRecipient(app, record, p, profiles[i]!, renderer));
    const out: BuiltPackage[] = [];
    for (const p of pending) out.push(await buildOne(app, actor, record, p, attachments, outDir, opts));
    return out;
  } finally {
    await renderer.close();
  }
}
