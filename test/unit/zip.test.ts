import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import PizZip from 'pizzip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planParts, safeFileName, uniqueNames, worthCompressing, writeZip, type ZipEntry } from '../../src/packages/zip.js';

const run = promisify(execFile);
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dossier-zip-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// The zip's own records, read from the bytes (what Explorer and unzip see), not through a library.
interface Record {
  name: string;
  flags: number; // central directory general purpose bits
  localFlags: number;
  method: number; // central directory compression method: 0 stored, 8 deflated
  localMethod: number;
  host: number; // "version made by" high byte: 0 = DOS, 3 = Unix
  size: number;
  compressedSize: number;
}
async function centralDirectory(file: string): Promise<Record[]> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const read = async (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      await fh.read(b, 0, len, pos);
      return b;
    };
    const eocd = await read(size - 22, 22); // we write no archive comment
    expect(eocd.readUInt32LE(0)).toBe(0x06054b50);
    const count = eocd.readUInt16LE(10);
    const cd = await read(eocd.readUInt32LE(16), eocd.readUInt32LE(12));
    const records: Record[] = [];
    for (let p = 0, i = 0; i < count; i++) {
      expect(cd.readUInt32LE(p)).toBe(0x02014b50);
      const nameLen = cd.readUInt16LE(p + 28);
      const skip = nameLen + cd.readUInt16LE(p + 30) + cd.readUInt16LE(p + 32);
      const local = await read(cd.readUInt32LE(p + 42), 30);
      expect(local.readUInt32LE(0)).toBe(0x04034b50);
      records.push({
        name: cd.toString('utf8', p + 46, p + 46 + nameLen),
        flags: cd.readUInt16LE(p + 8),
        localFlags: local.readUInt16LE(6),
        method: cd.readUInt16LE(p + 10),
        localMethod: local.readUInt16LE(8),
        host: cd.readUInt8(p + 5),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
      });
      p += 46 + skip;
    }
    return records;
  } finally {
    await fh.close();
  }
}
const UTF8_FLAG = 1 << 11;

async function fileSha(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A stream that yields `data` in small chunks, as a blob store would. */
const chunked = (data: Buffer, chunk = 4096) => () => Readable.from((function* () {
  for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
})());

describe('writeZip', () => {
  const text = Buffer.from('Заявление на страховую выплату. '.repeat(400));
  const jpeg = randomBytes(50_000); // incompressible, like a real JPEG
  const xml = Buffer.from(`<?xml version="1.0"?><data>${'<row a="1" b="Иванов"/>'.repeat(2000)}</data>`);
  const pdf = randomBytes(20_000);
  const entries: ZipEntry[] = [
    { name: 'Заявление.txt', source: text, size: text.length, compress: true },
    { name: 'Анкета.pdf', source: pdf, size: pdf.length, compress: false },
    { name: 'Сканы/Паспорт стр. 1.jpg', source: chunked(jpeg), size: jpeg.length, compress: false },
    { name: 'Сканы/Выписка ЕГРН.xml', source: async () => chunked(xml)(), size: xml.length, compress: true },
    { name: 'readme.txt', source: Buffer.from('ascii'), size: 5, compress: true },
    { name: 'Пусто.txt', source: Buffer.alloc(0), size: 0, compress: true },
  ];

  it('writes Cyrillic names, folders and contents that read back with their sha256s', async () => {
    const file = path.join(dir, 'Пакет документов.zip');
    const progress: [number, number][] = [];
    const result = await writeZip(entries, file, { onProgress: (d, t) => progress.push([d, t]) });

    const bytes = await readFile(file);
    expect(result.size).toBe(bytes.length);
    expect(result.sha256).toBe(sha256(bytes));
    expect(result.entries.map((e) => e.name)).toEqual(entries.map((e) => e.name));

    const zip = new PizZip(bytes);
    for (const [i, e] of entries.entries()) {
      const expected = Buffer.isBuffer(e.source) ? e.source : e.name.endsWith('.jpg') ? jpeg : xml;
      const back = zip.file(e.name)!.asNodeBuffer();
      expect(back.equals(expected), e.name).toBe(true);
      expect(result.entries[i]).toEqual({ name: e.name, size: expected.length, sha256: sha256(expected), compressed: e.compress && expected.length > 0 });
    }

    // Progress runs up to the total and never backwards.
    const total = entries.reduce((s, e) => s + e.size, 0);
    expect(progress.at(-1)).toEqual([total, total]);
    expect(progress.every(([d], i) => i === 0 || d >= progress[i - 1]![0])).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect((await readdir(dir)).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('stores already-compressed entries, deflates the rest, and flags UTF-8 names (bit 11)', async () => {
    const file = path.join(dir, 'methods.zip');
    await writeZip(entries, file);
    const records = await centralDirectory(file);
    const byName = new Map(records.map((r) => [r.name, r]));
    expect([...byName.keys()]).toEqual(entries.map((e) => e.name));
    for (const e of entries) {
      const r = byName.get(e.name)!;
      const method = e.compress && e.size > 0 ? 8 : 0;
      expect([r.method, r.localMethod], e.name).toEqual([method, method]);
      // Non-ASCII names carry the language encoding flag in both headers; Unix host (see zip.ts).
      const utf8 = /[^\x00-\x7f]/.test(e.name);
      expect(Boolean(r.flags & UTF8_FLAG), e.name).toBe(utf8);
      expect(Boolean(r.localFlags & UTF8_FLAG), e.name).toBe(utf8);
      expect(r.host).toBe(3);
      expect(r.size).toBe(e.size);
    }
    expect(byName.get('Заявление.txt')!.compressedSize).toBeLessThan(text.length / 10);
    expect(byName.get('Анкета.pdf')!.compressedSize).toBe(pdf.length);
  });

  it('lists and tests correctly with the system unzip (or Python zipfile)', async () => {
    const file = path.join(dir, 'Пакет для unzip.zip');
    await writeZip(entries, file);
    const env = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', PYTHONIOENCODING: 'utf-8' };
    const hasUnzip = await run('which', ['unzip']).then(() => true, () => false);
    const listing = hasUnzip
      ? (await run('unzip', ['-l', file], { env })).stdout
      : (await run('python3', ['-m', 'zipfile', '-l', file], { env })).stdout;
    for (const e of entries) expect(listing).toContain(e.name);
    if (hasUnzip) {
      const tested = (await run('unzip', ['-t', file], { env })).stdout;
      expect(tested).toContain('No errors detected');
    } else {
      await run('python3', ['-m', 'zipfile', '-t', file], { env });
    }
  });

  it('writes to a Writable and gives the same bytes', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const result = await writeZip(entries.slice(0, 3), sink);
    const bytes = Buffer.concat(chunks);
    expect(result.size).toBe(bytes.length);
    expect(result.sha256).toBe(sha256(bytes));
    expect(Object.keys(new PizZip(bytes).files)).toEqual(['Заявление.txt', 'Анкета.pdf', 'Сканы/Паспорт стр. 1.jpg']);
  });

  it('opens each stream source only when its turn comes', async () => {
    const opened: string[] = [];
    const lazy = (name: string, data: Buffer): ZipEntry => ({
      name, size: data.length, compress: false,
      source: () => {
        opened.push(name);
        return chunked(data)();
      },
    });
    const done: string[] = [];
    await writeZip([lazy('a.bin', randomBytes(100_000)), lazy('b.bin', randomBytes(100_000))], path.join(dir, 'lazy.zip'), {
      onProgress: (d) => {
        // While a.bin streams, b.bin must not be open yet.
        if (d <= 100_000) done.push(opened.join(','));
      },
    });
    expect(done.every((o) => o === 'a.bin')).toBe(true);
    expect(opened).toEqual(['a.bin', 'b.bin']);
  });

  it('keeps memory bounded while storing a 200 MB incompressible scan', async () => {
    const total = 200 * 1024 * 1024;
    const chunk = 256 * 1024;
    let produced = 0;
    const h = createHash('sha256');
    // Pseudo-random bytes made lazily: each chunk exists only until it has been written.
    const lazyRandom = (bytes: number, hash?: ReturnType<typeof createHash>) => () => new Readable({
      read() {
        if (produced >= bytes) return void this.push(null);
        const c = randomBytes(Math.min(chunk, bytes - produced));
        produced += c.length;
        hash?.update(c);
        this.push(c);
      },
    });
    const file = path.join(dir, 'big.zip');
    // A first write grows the heap and malloc arenas once (about 50 MB of garbage between
    // collections, whatever the size); do it before measuring so the test sees the steady state.
    await writeZip([{ name: 'warm-up.bin', source: lazyRandom(16 * 1024 * 1024), size: 16 * 1024 * 1024, compress: false }], file);
    produced = 0;

    const out = createWriteStream(file);
    const before = process.memoryUsage().rss;
    let peak = before;
    let inFlight = 0; // bytes made by the source but not yet on disk: what backpressure bounds
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
      inFlight = Math.max(inFlight, produced - out.bytesWritten);
    }, 5);
    try {
      const result = await writeZip([{ name: 'Сканы/Большой скан.tif', source: lazyRandom(total, h), size: total, compress: false }], out);
      peak = Math.max(peak, process.memoryUsage().rss);
      expect(result.entries[0]!.sha256).toBe(h.digest('hex'));
      expect(result.size).toBe((await stat(file)).size);
      expect(result.sha256).toBe(await fileSha(file));
      const [r] = await centralDirectory(file);
      expect([r!.method, r!.size, r!.compressedSize]).toEqual([0, total, total]);
    } finally {
      clearInterval(sampler);
      await rm(file, { force: true });
    }
    expect(inFlight).toBeLessThan(16 * 1024 * 1024);
    expect(peak - before).toBeLessThan(100 * 1024 * 1024);
  }, 30_000);

  describe('failures', () => {
    const ok: ZipEntry = { name: 'Заявление.txt', source: text, size: text.length, compress: true };

    it('rejects naming the entry when a source stream errors, and leaves no file', async () => {
      const file = path.join(dir, 'broken.zip');
      const failing = () => new Readable({
        read() {
          this.push(randomBytes(64 * 1024));
          this.destroy(new Error('connection to the blob store lost'));
        },
      });
      const p = writeZip([ok, { name: 'Сканы/Полис.jpg', source: failing, size: 10_000_000, compress: false }], file);
      await expect(p).rejects.toThrow(/Сканы\/Полис\.jpg.*connection to the blob store lost/);
      expect(await readdir(dir)).not.toContain('broken.zip');
      expect((await readdir(dir)).filter((f) => f.startsWith('broken.zip'))).toEqual([]);
    });

    it('rejects naming the entry when a blob file is missing', async () => {
      const file = path.join(dir, 'missing.zip');
      const err = await writeZip([ok, { name: 'Паспорт.jpg', source: () => createReadStream(path.join(dir, 'no-such-blob')), size: 5, compress: false }], file).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain('"Паспорт.jpg"');
      expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
      expect((await readdir(dir)).filter((f) => f.startsWith('missing.zip'))).toEqual([]);
    });

    it('rejects when opening the source throws, or when the size is wrong', async () => {
      const file = path.join(dir, 'other.zip');
      await expect(writeZip([{ name: 'a.jpg', source: async () => { throw new Error('no blob abc'); }, size: 1, compress: false }], file)).rejects.toThrow(/"a\.jpg".*no blob abc/);
      await expect(writeZip([{ name: 'short.jpg', source: chunked(Buffer.alloc(10)), size: 11, compress: false }], file)).rejects.toThrow(/"short\.jpg" has 10 bytes, expected 11/);
      await expect(writeZip([{ name: 'b.txt', source: Buffer.alloc(3), size: 4, compress: true }], file)).rejects.toThrow(/"b\.txt"/);
      expect((await readdir(dir)).filter((f) => f.startsWith('other.zip'))).toEqual([]);
    });

    it('refuses names that escape the folder or collide on Windows, before writing anything', async () => {
      const file = path.join(dir, 'names.zip');
      for (const name of ['../evil.txt', '/etc/passwd', 'C:/x.txt', 'a\\b.txt', 'a//b.txt', '']) {
        await expect(writeZip([{ name, source: Buffer.from('x'), size: 1, compress: true }], file), name).rejects.toThrow(/not a valid name/);
      }
      const two = ['Скан.jpg', 'СКАН.JPG'].map((name) => ({ name, source: Buffer.from('x'), size: 1, compress: false }));
      await expect(writeZip(two, file)).rejects.toThrow(/Two zip entries/);
      expect((await readdir(dir)).filter((f) => f.startsWith('names.zip'))).toEqual([]);
    });

    it('rejects when the zip cannot be written', async () => {
      const nowhere = path.join(dir, 'no-such-folder', 'x.zip');
      await expect(writeZip([ok], nowhere)).rejects.toThrow(/Could not write the zip: ENOENT/);
      // A stream source opened while the zip file is failing to open is closed again.
      let blob: Readable | undefined;
      const slowOpen = async () => {
        await new Promise((r) => setTimeout(r, 50));
        return (blob = chunked(Buffer.alloc(10))());
      };
      await expect(writeZip([{ name: 'a.jpg', source: slowOpen, size: 10, compress: false }], nowhere)).rejects.toThrow(/ENOENT/);
      expect(blob?.destroyed).toBe(true);
      const failingSink = new Writable({
        write(_chunk, _enc, cb) {
          cb(new Error('disk full'));
        },
      });
      await expect(writeZip([ok, { name: 'big.jpg', source: chunked(randomBytes(1_000_000)), size: 1_000_000, compress: false }], failingSink)).rejects.toThrow(/disk full/);
    });

    it('rejects when the progress callback throws', async () => {
      const file = path.join(dir, 'progress.zip');
      const p = writeZip([{ name: 'a.jpg', source: chunked(randomBytes(100_000)), size: 100_000, compress: false }], file, {
        onProgress: () => {
          throw new Error('progress bar broke');
        },
      });
      await expect(p).rejects.toThrow(/"a\.jpg".*progress bar broke/);
      expect((await readdir(dir)).filter((f) => f.startsWith('progress.zip'))).toEqual([]);
    });

    it('destroys a Writable destination on failure', async () => {
      const sink = new PassThrough();
      sink.resume();
      const p = writeZip([{ name: 'x.jpg', source: async () => { throw new Error('gone'); }, size: 1, compress: false }], sink);
      await expect(p).rejects.toThrow(/"x\.jpg"/);
      expect(sink.destroyed).toBe(true);
    });
  });
});

describe('safeFileName', () => {
  it('defuses hostile names', () => {
    expect(safeFileName('../../etc/passwd')).toBe('_.._etc_passwd');
    expect(safeFileName('..\\..\\windows\\system.ini')).toBe('_.._windows_system.ini');
    expect(safeFileName('a\u0000b')).toBe('ab');
    expect(safeFileName('строка1\nстрока2.txt')).toBe('строка1 строка2.txt');
    expect(safeFileName('счёт\u202Efdp.exe')).toBe('счётfdp.exe'); // right-to-left override removed
    expect(safeFileName('CON.txt')).toBe('_CON.txt');
    expect(safeFileName('con')).toBe('_con');
    expect(safeFileName('Lpt1.pdf')).toBe('_Lpt1.pdf');
    expect(safeFileName('CONTRACT.pdf')).toBe('CONTRACT.pdf');
    expect(safeFileName('имя:с*недопустимыми?символами.pdf')).toBe('имя_с_недопустимыми_символами.pdf');
    expect(safeFileName('<>:"/\\|?*.txt')).toBe('_________.txt');
    expect(safeFileName('Отчёт.  . ')).toBe('Отчёт');
    expect(safeFileName('   .')).toBe('file');
    expect(safeFileName('')).toBe('file');
    expect(safeFileName('..')).toBe('file');
    expect(safeFileName('Паспорт стр. 1.jpg')).toBe('Паспорт стр. 1.jpg');
    expect(safeFileName('и\u0306ога.pdf')).toBe('йога.pdf'); // NFD from macOS becomes NFC
  });

  it('shortens long names to 150 characters (and 255 UTF-8 bytes), keeping the extension', () => {
    const latin = safeFileName(`${'a'.repeat(400)}.pdf`);
    expect(latin).toBe(`${'a'.repeat(146)}.pdf`);
    const cyr = safeFileName(`${'я'.repeat(400)}.docx`);
    expect(cyr.endsWith('.docx')).toBe(true);
    expect(Array.from(cyr).length).toBeLessThanOrEqual(150);
    expect(Buffer.byteLength(cyr)).toBeLessThanOrEqual(255);
    expect(cyr).toBe(`${'я'.repeat(125)}.docx`);
    const noExt = safeFileName('б'.repeat(400));
    expect(Buffer.byteLength(noExt)).toBeLessThanOrEqual(255);
    // Never half of a surrogate pair.
    const emoji = safeFileName(`${'😀'.repeat(200)}.txt`);
    expect(emoji.endsWith('.txt')).toBe(true);
    expect(emoji).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    // A "long extension" is not an extension.
    expect(safeFileName(`x.${'y'.repeat(400)}`).length).toBe(150);
  });
});

describe('uniqueNames', () => {
  it('numbers repeats case-insensitively, before the extension', () => {
    expect(uniqueNames(['скан.jpg', 'СКАН.JPG', 'скан.jpg', 'другой.pdf'])).toEqual(['скан.jpg', 'СКАН (2).JPG', 'скан (3).jpg', 'другой.pdf']);
  });
  it('never collides with a name given later, and handles folders and names without extension', () => {
    expect(uniqueNames(['a.jpg', 'a.jpg', 'a (2).jpg'])).toEqual(['a.jpg', 'a (3).jpg', 'a (2).jpg']);
    expect(uniqueNames(['Сканы/лист', 'сканы/ЛИСТ', 'Сканы.v2/лист'])).toEqual(['Сканы/лист', 'сканы/ЛИСТ (2)', 'Сканы.v2/лист']);
    expect(uniqueNames(['Сканы.v2/лист', 'Сканы.v2/лист'])).toEqual(['Сканы.v2/лист', 'Сканы.v2/лист (2)']);
    expect(uniqueNames([])).toEqual([]);
  });
  it('keeps a numbered repeat of a name at the limit within 150 characters and 255 bytes', () => {
    const long = safeFileName(`${'я'.repeat(400)}.pdf`); // already at the byte limit
    const [first, second] = uniqueNames([long, long, `Сканы/${long}`]);
    expect(first).toBe(long);
    expect(second!.endsWith(' (2).pdf')).toBe(true);
    expect(Buffer.byteLength(second!)).toBeLessThanOrEqual(255);
    expect(Array.from(second!).length).toBeLessThanOrEqual(150);
    const inFolder = uniqueNames([`Сканы/${long}`, `сканы/${long}`])[1]!;
    expect(inFolder.startsWith('сканы/')).toBe(true);
    expect(Buffer.byteLength(inFolder.slice('сканы/'.length))).toBeLessThanOrEqual(255);
  });
});

describe('planParts', () => {
  const MB = 1024 * 1024;
  it('keeps everything in one part when it fits', () => {
    expect(planParts([{ name: 'a.pdf', size: MB }, { name: 'b.pdf', size: MB }], 10 * MB)).toEqual({ parts: [['a.pdf', 'b.pdf']], oversize: [] });
    expect(planParts([], 10 * MB)).toEqual({ parts: [], oversize: [] });
  });

  it('splits at the limit, fills gaps first-fit and keeps order otherwise', () => {
    const files = [
      { name: 'Заявление.pdf', size: 4 * MB },
      { name: 'Скан 1.jpg', size: 5 * MB },
      { name: 'Скан 2.jpg', size: 5 * MB },
      { name: 'Справка.pdf', size: 0.5 * MB },
    ];
    // 4 + 5 fits in 10 MB; the second 5 MB scan does not; the small certificate fills part 1.
    expect(planParts(files, 10 * MB)).toEqual({ parts: [['Заявление.pdf', 'Скан 1.jpg', 'Справка.pdf'], ['Скан 2.jpg']], oversize: [] });
    // Exactly at the limit the per-file overhead no longer fits.
    expect(planParts([{ name: 'a', size: 5 * MB }, { name: 'b', size: 5 * MB }], 10 * MB).parts).toEqual([['a'], ['b']]);
  });

  it('keeps pinned documents in part 1', () => {
    const files = [
      { name: 'Скан 1.jpg', size: 6 * MB },
      { name: 'Скан 2.jpg', size: 3 * MB },
      { name: 'Опись.pdf', size: 2 * MB, pinFirst: true },
      { name: 'Заявление.pdf', size: 1 * MB, pinFirst: true },
    ];
    expect(planParts(files, 10 * MB)).toEqual({ parts: [['Опись.pdf', 'Заявление.pdf', 'Скан 1.jpg'], ['Скан 2.jpg']], oversize: [] });
  });

  it('gives an oversize file a part of its own and reports it', () => {
    const files = [{ name: 'a.pdf', size: MB }, { name: 'Видео.mp4', size: 50 * MB }, { name: 'b.pdf', size: MB }];
    expect(planParts(files, 10 * MB)).toEqual({ parts: [['a.pdf', 'b.pdf'], ['Видео.mp4']], oversize: ['Видео.mp4'] });
  });

  it('plans parts whose real zips stay within the limit, even deflating incompressible data', async () => {
    const max = 300_000;
    const files = Array.from({ length: 12 }, (_, i) => ({ name: `Сканы/Лист ${i + 1} с длинным русским названием.jpg`, data: randomBytes(20_000 + i * 7_919) }));
    const { parts, oversize } = planParts(files.map((f) => ({ name: f.name, size: f.data.length })), max);
    expect(oversize).toEqual([]);
    expect(parts.length).toBeGreaterThan(1);
    for (const [i, names] of parts.entries()) {
      const part = files.filter((f) => names.includes(f.name));
      // compress: true on random bytes is the worst case: deflate makes them slightly bigger.
      const r = await writeZip(part.map((f) => ({ name: f.name, source: chunked(f.data), size: f.data.length, compress: true })), path.join(dir, `part${i}.zip`));
      expect(r.size).toBeLessThanOrEqual(max);
    }
  });

  it('rejects a nonsensical limit', () => {
    expect(() => planParts([{ name: 'a', size: 1 }], 0)).toThrow();
  });
});

describe('worthCompressing', () => {
  it('skips what is already compressed', () => {
    for (const t of ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'application/pdf', 'application/zip', 'audio/mpeg', 'video/mp4',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'IMAGE/JPEG; foo=bar']) {
      expect(worthCompressing(t), t).toBe(false);
    }
  });
  it('deflates text, XML, JSON, BMP, TIFF, DOC, RTF, CSV and unknown types', () => {
    for (const t of ['text/plain; charset=utf-8', 'application/xml', 'text/xml', 'application/json', 'image/bmp', 'image/tiff', 'application/msword', 'application/rtf', 'text/csv', 'application/octet-stream', '']) {
      expect(worthCompressing(t), t).toBe(true);
    }
  });
});
