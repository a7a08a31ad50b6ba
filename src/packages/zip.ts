import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { ZipArchive } from 'archiver';

// Zip packages for banks, insurers and lawyers, most of whom open them in Windows Explorer.
//
// File names. archiver (zip-stream → compress-commons) writes names as UTF-8 and sets the
// "language encoding" flag (general purpose bit 11) by itself whenever a name is not pure ASCII
// (ZipArchiveEntry.setName). It also marks every entry as made on Unix (version made by = 3,
// because archiver always gives a file mode), which some GUI unzippers need before they trust bit 11.
// What the readers do with that:
//   - Windows 7, 8, 10 and 11 Explorer ("compressed folders") honour bit 11: Cyrillic names show
//     and extract correctly. Nothing more is needed there.
//   - Windows XP and Vista Explorer ignore bit 11 and read names in the OEM code page (CP866 on
//     Russian Windows), so Cyrillic names come out garbled. Neither of them reads the Info-ZIP
//     Unicode Path extra field (0x7075) either; the only thing that works there is a CP866 name
//     in the header, which every other reader would then garble. Not worth it in 2020s offices.
//   - 7-Zip, WinRAR, Info-ZIP unzip, macOS Archive Utility, Python's zipfile: honour bit 11.
// The 0x7075 field is what WinRAR/WinZip (and Windows' own zip writer) add when the header name is
// in a legacy code page; APPNOTE 4.6.9 says it SHOULD NOT be written when bit 11 is set, and readers
// ignore it then. archiver offers no option for extra fields anyway (zip-stream builds the entry
// itself and never calls setExtra), so we do not write it.
//
// Names must also be valid on Windows (no <>:"|?*, no CON.txt, no trailing dots, not too long):
// callers build entry names from safeFileName() and uniqueNames(); writeZip() only refuses names
// that would escape the extraction folder or collide.

// archiver computes each entry's CRC-32 with the crc-32 package, in JavaScript: for the stored scans
// of a deal's packages that was a tenth of the build's CPU in its profile. Node (20.15+) has a
// native zlib.crc32 giving the same values; crc32-stream looks crc32.buf up on every chunk, so the
// shared module object is pointed at it (one copy of crc-32 in the tree; a different copy would
// only keep the slower path). Its seed may be a Buffer at first (crc32-stream starts with 4 zero
// bytes), which crc-32 reads as 0.
const crcModule = createRequire(import.meta.url)('crc-32') as { buf: (data: Uint8Array, seed?: unknown) => number };
if (typeof zlibCrc32 === 'function') crcModule.buf = (data, seed) => zlibCrc32(data, typeof seed === 'number' ? seed >>> 0 : 0) | 0;

export interface ZipEntry {
  /** Path inside the zip, UTF-8, may contain Cyrillic and a folder ("Сканы/Паспорт стр. 1.jpg"). */
  name: string;
  /** The bytes: a Buffer (rendered documents) or a function opening a stream (scans from the blob store — never read whole into memory). */
  source: Buffer | (() => Promise<Readable> | Readable);
  /** Exact byte count: a stream that yields a different number of bytes fails the zip (a truncated blob). */
  size: number;
  /** false for already-compressed content (JPEG, PNG, PDF, ZIP, DOCX…): stored, not deflated again. */
  compress: boolean;
  date?: Date;
  /** Its checksum when already known (a blob's name; a document the caller hashed): not computed again. */
  sha256?: string;
}

export interface ZipResult {
  /** null when asked not to hash the zip (`hashZip: false`). */
  sha256: string | null;
  size: number;
  entries: { name: string; size: number; sha256: string; compressed: boolean }[];
}

export interface WriteZipOptions {
  onProgress?(done: number, total: number): void;
  /** Deflate level 1–9 for entries with compress: true; default 6. */
  level?: number;
  /** false: `out` hashes the zip itself (the blob store names what it stores by its sha256). */
  hashZip?: boolean;
}

/**
 * Streams the entries into a zip at `out` (a file path or a Writable); computes the sha256 of every
 * entry while streaming and of the whole zip. Never holds a scan in memory. onProgress(bytesDone,
 * bytesTotal) is called as entries stream.
 *
 * Entries are added one at a time: a stream source is opened only when its turn comes, so a package
 * with a hundred scans never has more than one blob open. On failure the promise rejects with an
 * Error naming the entry; a path `out` is written to a temporary file beside it and renamed only on
 * success, so no partial zip is left; a Writable `out` is destroyed.
 */
export async function writeZip(entries: ZipEntry[], out: string | NodeJS.WritableStream, opts: WriteZipOptions = {}): Promise<ZipResult> {
  const level = opts.level ?? 6;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new Error(`Zip compression level must be 1–9, not ${level}.`);
  checkEntries(entries);
  const total = entries.reduce((sum, e) => sum + e.size, 0);
  let done = 0;
  const progress = (bytes: number): void => {
    done += bytes;
    opts.onProgress?.(done, total);
  };

  // The first failure wins (a named source error rather than the write error it causes downstream).
  let failure: Error | undefined;
  let reject!: (err: Error) => void;
  const failed = new Promise<never>((_resolve, r) => (reject = r));
  failed.catch(() => undefined); // always awaited through Promise.race; this only silences Node
  const fail = (err: Error): void => {
    if (failure) return;
    failure = err;
    reject(err);
  };

  const temp = typeof out === 'string' ? `${out}.${randomBytes(6).toString('hex')}.part` : null;
  // 'wx': never write into a file that someone else has just created under the same temp name.
  const dest = temp ? createWriteStream(temp, { flags: 'wx' }) : (out as NodeJS.WritableStream);

  // forceLocalTime: zip times have no time zone and Explorer shows them as they are; local time
  // (the server's, normally Moscow) reads right for the recipient, UTC would be hours off.
  const archive = new ZipArchive({ zlib: { level }, forceLocalTime: true });
  const zipHash = opts.hashZip === false ? null : createHash('sha256');
  let zipSize = 0;
  const zipMeter = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      zipHash?.update(chunk);
      zipSize += chunk.length;
      cb(null, chunk);
    },
  });
  // pipeline() carries backpressure from the file back to archiver, and archiver's pipes carry it
  // back to the entry's source: the scan is read only as fast as the disk takes the zip.
  let pipelineEnded!: () => void;
  const ended = new Promise<void>((resolve) => (pipelineEnded = resolve));
  const written = new Promise<void>((resolve) => {
    pipeline(archive, zipMeter, dest, (err) => {
      pipelineEnded();
      if (err) fail(new Error(`Could not write the zip: ${err.message}`, { cause: err }));
      else resolve();
    });
  });

  let current: { source?: Readable; meter?: Transform } = {};
  const results: ZipResult['entries'] = [];
  try {
    for (const entry of entries) {
      if (failure) throw failure; // e.g. the zip file could not be created: append nothing more
      const data = { name: entry.name, store: !entry.compress, date: entry.date ?? new Date() };
      // archiver emits 'entry' once an entry's bytes have gone into the zip; we wait for it before
      // opening the next source (one source open at a time).
      const appended = new Promise<void>((resolve) => archive.once('entry', () => resolve()));
      let sha256: string;
      if (Buffer.isBuffer(entry.source)) {
        sha256 = entry.sha256 ?? createHash('sha256').update(entry.source).digest('hex');
        archive.append(entry.source, data);
        await Promise.race([appended, failed]);
        progress(entry.source.length);
      } else {
        // Not raced against `failed`: a source opened after a failure would never be closed.
        const source = await openSource(entry);
        current = { source };
        if (failure) throw failure;
        const meter = new EntryMeter(entry, progress);
        current.meter = meter;
        // pipeline (not pipe) so that a source error reaches us and destroys the meter.
        pipeline(source, meter, (err) => {
          if (err) fail(new Error(`Could not read "${entry.name}" for the zip: ${err.message}`, { cause: err }));
        });
        archive.append(meter, data);
        await Promise.race([appended, failed]);
        sha256 = meter.sha256();
      }
      // An empty buffer is always stored (compress-commons switches the method).
      const compressed = entry.compress && !(Buffer.isBuffer(entry.source) && entry.size === 0);
      results.push({ name: entry.name, size: entry.size, sha256, compressed });
    }
    archive.finalize().catch(() => undefined); // errors arrive through the pipeline
    await Promise.race([written, failed]);
    if (temp) {
      await closed(dest);
      await rename(temp, out as string);
    }
    return { sha256: zipHash?.digest('hex') ?? null, size: zipSize, entries: results };
  } catch (err) {
    archive.abort();
    current.source?.destroy();
    current.meter?.destroy();
    archive.destroy();
    zipMeter.destroy();
    // pipeline() destroys the destination too (a caller's Writable learns the zip is incomplete);
    // wait for that, so nothing happens after we reject.
    const d = dest as NodeJS.WritableStream & { destroy?(): void };
    d.destroy?.();
    await ended;
    if (temp) {
      await closed(dest);
      await rm(temp, { force: true });
    }
    throw err;
  }
}

/** Opens a stream source, naming the entry if that fails (e.g. the blob store has no such file). */
async function openSource(entry: ZipEntry): Promise<Readable> {
  try {
    return await (entry.source as () => Promise<Readable> | Readable)();
  } catch (err) {
    throw new Error(`Could not open "${entry.name}" for the zip: ${(err as Error).message}`, { cause: err });
  }
}

/** Pass-through that hashes and counts an entry's bytes as they stream, and checks the size at the end. */
class EntryMeter extends Transform {
  // No hashing for a source whose checksum is known (a blob: content-addressed); its size is still checked.
  private readonly hash: Hash | null;
  private bytes = 0;
  private digest: string | undefined;

  constructor(
    private readonly entry: ZipEntry,
    private readonly progress: (bytes: number) => void,
  ) {
    super();
    this.hash = entry.sha256 === undefined ? createHash('sha256') : null;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash?.update(chunk);
    this.bytes += chunk.length;
    try {
      this.progress(chunk.length);
    } catch (err) {
      // A throwing progress callback must fail this zip, not crash the process from inside a pipe.
      cb(err as Error);
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    // A short or long read means a damaged blob; better no package than a wrong one.
    if (this.bytes !== this.entry.size) {
      cb(new Error(`"${this.entry.name}" has ${this.bytes} bytes, expected ${this.entry.size}.`));
      return;
    }
    this.digest = this.hash?.digest('hex') ?? this.entry.sha256!;
    cb();
  }

  sha256(): string {
    if (this.digest === undefined) throw new Error(`"${this.entry.name}" was not fully read.`);
    return this.digest;
  }
}

/** Refuses entry names that would escape the extraction folder, are empty, or collide on Windows. */
function checkEntries(entries: ZipEntry[]): void {
  const seen = new Set<string>();
  for (const e of entries) {
    const segments = e.name.split('/');
    if (e.name.includes('\\') || /^[a-z]:/i.test(e.name) || segments.some((s) => s === '' || s === '.' || s === '..')) {
      throw new Error(`"${e.name}" is not a valid name inside a zip (empty, absolute or "..").`);
    }
    const key = nameKey(e.name);
    if (seen.has(key)) throw new Error(`Two zip entries are named "${e.name}" (names are compared ignoring case).`);
    seen.add(key);
    if (!Number.isSafeInteger(e.size) || e.size < 0) throw new Error(`"${e.name}" has an invalid size ${e.size}.`);
    if (Buffer.isBuffer(e.source) && e.source.length !== e.size) {
      throw new Error(`"${e.name}" has ${e.source.length} bytes, expected ${e.size}.`);
    }
  }
}

function closed(stream: NodeJS.WritableStream): Promise<void> {
  const s = stream as NodeJS.WritableStream & { closed?: boolean };
  return s.closed ? Promise.resolve() : new Promise((resolve) => stream.once('close', () => resolve()));
}

// ---------------------------------------------------------------------------------------------

/** Content types that are already compressed: deflating them again costs time and saves nothing. */
const PACKED_TYPES = new Set([
  'image/jpeg', 'image/jpg', 'image/pjpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'image/heif', 'image/avif', 'image/jp2',
  'application/pdf',
  'application/zip', 'application/x-zip-compressed', 'application/gzip', 'application/x-gzip', 'application/x-7z-compressed',
  'application/vnd.rar', 'application/x-rar-compressed', 'application/x-bzip2', 'application/x-xz', 'application/zstd',
  'application/epub+zip',
]);

/** Whether content of this type is worth deflating: false for image/jpeg, image/png, image/gif, image/webp, image/heic, application/pdf, application/zip, audio/*, video/*, and OOXML (docx/xlsx: already zipped); true for text, xml, json, bmp, tiff, doc (OLE), rtf, csv, unknown. */
export function worthCompressing(contentType: string): boolean {
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (PACKED_TYPES.has(type)) return false;
  if (type.startsWith('audio/') || type.startsWith('video/')) return false;
  // OOXML (docx, xlsx, pptx) and OpenDocument (odt, ods) are zip files; so is anything "+zip".
  if (type.startsWith('application/vnd.openxmlformats-officedocument.') || type.startsWith('application/vnd.oasis.opendocument.')) return false;
  if (type.endsWith('+zip')) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------

/** Bytes a zip adds per file besides its data: local header (30) + data descriptor (16) + central
 * header (46) + the name twice, plus room for deflate's worst case on incompressible data
 * (about 5 bytes per 16–64 KiB block) and a ZIP64 extra, should it ever be needed. */
function entryEstimate(file: { name: string; size: number }): number {
  return file.size + 30 + 16 + 46 + 2 * Buffer.byteLength(file.name) + 28 + Math.ceil(file.size / 4096) + 16;
}
/** The end-of-central-directory record every zip has. */
const ZIP_END = 22;

/** Splits files into parts so that each part's zip (files + per-part overhead estimate) stays within maxBytes; keeps the given order as far as possible (first-fit decreasing is fine but documents listed with `pinFirst` stay in part 1). A single file bigger than maxBytes gets a part of its own and is reported in `oversize`. */
export function planParts(files: { name: string; size: number; pinFirst?: boolean }[], maxBytes: number): { parts: string[][]; oversize: string[] } {
  if (!(maxBytes > ZIP_END)) throw new Error(`The largest part must be more than ${ZIP_END} bytes, not ${maxBytes}.`);
  // First fit in the given order (pinned files first): the reader gets the files in the order the
  // profile lists them, split only where a part is full. Sizes are uncompressed, so the estimate
  // errs on the large side for deflated text.
  const ordered = [...files.filter((f) => f.pinFirst), ...files.filter((f) => !f.pinFirst)];
  const parts: { names: string[]; bytes: number; solo: boolean }[] = [];
  const oversize: string[] = [];
  for (const file of ordered) {
    const bytes = entryEstimate(file);
    if (bytes + ZIP_END > maxBytes) {
      oversize.push(file.name);
      parts.push({ names: [file.name], bytes: bytes + ZIP_END, solo: true });
      continue;
    }
    // Pinned files only go where they fit; if the pinned documents alone overflow part 1, the rest
    // of them go to the next parts (still ahead of any unpinned file).
    let part = parts.find((p) => !p.solo && p.bytes + bytes <= maxBytes);
    if (!part) {
      part = { names: [], bytes: ZIP_END, solo: false };
      parts.push(part);
    }
    part.names.push(file.name);
    part.bytes += bytes;
  }
  return { parts: parts.map((p) => p.names), oversize };
}

// ---------------------------------------------------------------------------------------------

const MAX_NAME_CHARS = 150;
/** ext4 and most Linux file systems allow 255 bytes per name; Cyrillic takes two bytes a letter. */
const MAX_NAME_BYTES = 255;
const RESERVED_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i;

/** A file name safe in zips and on Windows: no path traversal, no control characters, no reserved characters <>:"/\|?* (replaced with _), no trailing dots/spaces, not a reserved device name (CON, PRN, AUX, NUL, COM1…, LPT1…), at most 150 characters keeping the extension; Cyrillic kept. */
export function safeFileName(name: string): string {
  let s = name
    .normalize('NFC') // macOS sends "й" as и + combining breve; one form avoids look-alike duplicates
    .replace(/[\t\n\r\v\f]+/g, ' ')
    // Other control characters, and invisible format characters such as the right-to-left override
    // that makes "счёт\u202Efdp.exe" display as "счётexe.pdf".
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .replace(/[<>:"/\\|?*]/g, '_') // includes both path separators: the result is one name, never a path
    .replace(/\s+/g, ' ')
    // Windows drops trailing dots and spaces; leading ones make hidden or odd-looking files ("..").
    .replace(/^[\s.]+|[\s.]+$/g, '');
  if (s === '') s = 'file';

  // Extension: a short run of letters/digits after the last dot ("pdf", "jpeg", "docx").
  const dot = s.lastIndexOf('.');
  const hasExt = dot > 0 && /^[\p{L}\p{N}]{1,10}$/u.test(s.slice(dot + 1));
  let stem = hasExt ? s.slice(0, dot) : s;
  const ext = hasExt ? s.slice(dot) : '';

  // "CON.txt", "nul", "Com1.pdf" open a device on Windows, whatever the extension.
  if (RESERVED_DEVICE.test(stem.replace(/[\s.]+$/, '').split('.')[0] ?? '')) stem = `_${stem}`;

  return fitName(stem, ext);
}

/** stem + tail within the name limits, the stem shortened by whole characters (never half a surrogate pair). */
function fitName(stem: string, tail: string): string {
  const chars = Array.from(stem);
  const tailChars = Array.from(tail).length;
  const tailBytes = Buffer.byteLength(tail);
  let bytes = Buffer.byteLength(stem);
  let cut = chars.length;
  while (cut > 1 && (cut + tailChars > MAX_NAME_CHARS || bytes + tailBytes > MAX_NAME_BYTES)) {
    cut--;
    bytes -= Buffer.byteLength(chars[cut]!);
  }
  return (cut < chars.length ? chars.slice(0, cut).join('').replace(/[\s.]+$/, '') || '_' : stem) + tail;
}

/** Case- and normalization-insensitive key, as Windows compares names. */
function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/** Makes names unique within one archive ("скан.jpg", "скан (2).jpg"), case-insensitively (Windows). */
export function uniqueNames(names: string[]): string[] {
  // Every name as given is reserved first, so a later "скан (2).jpg" from the input keeps its name
  // and a generated one never collides with it.
  const taken = new Set(names.map(nameKey));
  const kept = new Set<string>();
  return names.map((name) => {
    const key = nameKey(name);
    if (!kept.has(key)) {
      kept.add(key);
      return name;
    }
    // Split "Сканы/скан.jpg" into "Сканы/скан" + ".jpg"; the suffix goes before the extension.
    const slash = name.lastIndexOf('/');
    const dot = name.lastIndexOf('.');
    const cut = dot > slash + 1 ? dot : name.length;
    for (let n = 2; ; n++) {
      // The suffix must not push a name that was at the limit over it: the stem gives way.
      const candidate = name.slice(0, slash + 1) + fitName(name.slice(slash + 1, cut), ` (${n})${name.slice(cut)}`);
      const k = nameKey(candidate);
      if (!taken.has(k)) {
        taken.add(k);
        kept.add(k);
        return candidate;
      }
    }
  });
}

