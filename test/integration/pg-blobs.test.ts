import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import v8 from 'node:v8';
import vm from 'node:vm';
import PizZip from 'pizzip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Db } from '../../src/db/pool.js';
import { fixturesDir } from '../../src/paths.js';
import { CHUNK_BYTES, PgBlobStore } from '../../src/storage/pg-blobs.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';

// storage.blobs: postgres — blob bytes kept in blob_contents / blob_chunks so that workers on several
// machines sharing one PostgreSQL reach the same files. Checked the way a user would: the bytes come
// back identical, stored once, nothing left by a failed put, memory bounded on a large blob, and the
// whole CLI (attach → pack build → pack send → worker, mail ingest → mail show) on this backend.

let db: TestDatabase;
let pool: Db;
let store: PgBlobStore;
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);
const counts = async () => (await sql<{ contents: number; chunks: number }>('SELECT (SELECT count(*)::int FROM blob_contents) AS contents, (SELECT count(*)::int FROM blob_chunks) AS chunks'))[0]!;

// A full collection on demand, so that memory measurements see what is kept alive (the flag can be
// set at run time; the function then comes from a fresh context).
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** A source that hands out `bytes` in pieces of `piece` bytes (sizes that do not line up with the chunks). */
function pieces(bytes: Buffer, piece: number): Readable {
  const out: Buffer[] = [];
  for (let off = 0; off < bytes.length; off += piece) out.push(bytes.subarray(off, off + piece));
  return Readable.from(out);
}

/** `total` random bytes made as they are read, hashed on the way: the test never holds them. */
function generated(total: number, onPiece: () => void): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let left = total;
  const stream = new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const b = randomBytes(Math.min(64 * 1024, left));
      left -= b.length;
      hash.update(b);
      onPiece();
      this.push(b);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.config, 4);
  store = new PgBlobStore(pool);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('PostgreSQL blob store', () => {
  it('gives back a small file byte for byte, under its sha256', async () => {
    const bytes = Buffer.from('Акт осмотра №17 — повреждения заднего бампера\n');
    const stored = await store.put(Readable.from([bytes]));
    expect(stored).toEqual({ sha256: sha(bytes), size: bytes.length });
    expect(await store.has(stored.sha256)).toBe(true);
    expect(await buffer(await store.open(stored.sha256))).toEqual(bytes);
  });

  it('stores the empty file', async () => {
    const stored = await store.put(Readable.from([]));
    expect(stored).toEqual({ sha256: sha(Buffer.alloc(0)), size: 0 });
    expect((await buffer(await store.open(stored.sha256))).length).toBe(0);
    expect(await sql('SELECT size, chunks FROM blob_contents WHERE sha256 = $1', [stored.sha256])).toEqual([{ size: 0, chunks: 0 }]);
  });

  it('cuts a multi-megabyte file into 1 MiB rows and reads it back whole, from a stream or a path', async () => {
    const bytes = randomBytes(5 * MiB + 12_345);
    const stored = await store.put(pieces(bytes, 100_003));
    expect(stored).toEqual({ sha256: sha(bytes), size: bytes.length });
    const rows = await sql<{ seq: number; n: number }>(
      'SELECT c.seq, length(c.data) AS n FROM blob_chunks c JOIN blob_contents b ON b.id = c.blob_id WHERE b.sha256 = $1 ORDER BY c.seq',
      [stored.sha256],
    );
    expect(rows).toEqual([0, 1, 2, 3, 4, 5].map((seq) => ({ seq, n: seq < 5 ? CHUNK_BYTES : 12_345 })));
    expect(sha(await buffer(await store.open(stored.sha256)))).toBe(stored.sha256);

    // The same bytes from a file on disk (how attachments and packages are stored) land on the same blob.
    const file = path.join(await tempDir(), 'scan.bin');
    await writeFile(file, bytes);
    expect(await store.put(file)).toEqual(stored);
    expect(await sql('SELECT count(*)::int AS n FROM blob_contents WHERE sha256 = $1', [stored.sha256])).toEqual([{ n: 1 }]);
  });

  it('keeps the same content once, whether it is stored again later or twice at the same moment', async () => {
    const bytes = randomBytes(2 * MiB + 7);
    const before = await counts();
    await store.put(Readable.from([bytes]));
    await store.put(pieces(bytes, 65_536));
    const twin = randomBytes(MiB + 1);
    const [a, b] = await Promise.all([store.put(pieces(twin, 50_000)), store.put(pieces(twin, 70_000))]);
    expect(a).toEqual(b);
    expect(await counts()).toEqual({ contents: before.contents + 2, chunks: before.chunks + 3 + 2 });
    expect(sha(await buffer(await store.open(a.sha256)))).toBe(sha(twin));
  });

  it('says BLOB_MISSING, with the checksum and where it looked, for a file it does not have', async () => {
    const missing = sha(Buffer.from('never stored'));
    expect(await store.has(missing)).toBe(false);
    const err = await store.open(missing).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'BLOB_MISSING' });
    expect((err as Error).message).toBe(`The stored file ${missing} is missing from the PostgreSQL blob store (table blob_contents in database "${db.name}").`);
    expect((err as { hint: string }).hint).toContain('storage.blobs');
  });

  it('leaves nothing behind when the source fails half-way', async () => {
    const before = await counts();
    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent >= 3 * MiB) return void this.destroy(new Error('connection to the mail server lost'));
        sent += 256 * 1024;
        this.push(randomBytes(256 * 1024));
      },
    });
    await expect(store.put(failing)).rejects.toThrow('connection to the mail server lost');
    expect(await counts()).toEqual(before);
    // The put's connection went back rolled back, not stuck inside a transaction.
    const stuck = await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%'", [db.name]);
    expect(stuck).toEqual([{ n: 0 }]);
    const after = await store.put(Readable.from([Buffer.from('still works')]));
    expect(await store.has(after.sha256)).toBe(true);
  });

  it('stores and reads a 64 MB file without holding it in memory', async () => {
    // RSS is sampled every 8 MiB moved, each time after full collections, so that it shows what is
    // kept alive rather than garbage V8 has not freed yet (each chunk passes through pg as a string).
    // The baseline is the peak of the same sampling over a small blob: the allocator keeps freed
    // memory for a while and RSS wobbles by tens of MiB, the same for 8 MiB as for 64 MiB. A store
    // that held the blob would add its 64 MiB on top.
    const rss = () => {
      gc();
      gc(); // large strings are only given back by a second pass
      return process.memoryUsage().rss;
    };
    const moveAndMeasure = async (size: number) => {
      let peak = rss();
      let pieces = 0; // 64 KiB each
      const source = generated(size, () => void (++pieces % 128 === 0 && (peak = Math.max(peak, rss()))));
      const stored = await store.put(source.stream);
      expect(stored).toEqual({ sha256: source.digest(), size });
      const putPeak = peak;

      peak = rss();
      const hash = createHash('sha256');
      let read = 0;
      for await (const chunk of await store.open(stored.sha256)) {
        const before = read;
        hash.update(chunk as Buffer);
        read += (chunk as Buffer).length;
        // By bytes, not chunks, and while the chunk is still held: however the store cuts its output.
        if (Math.floor(read / (8 * MiB)) > Math.floor(before / (8 * MiB))) peak = Math.max(peak, rss());
      }
      expect({ read, sha256: hash.digest('hex') }).toEqual({ read: size, sha256: stored.sha256 });
      return { putPeak, readPeak: peak };
    };

    const small = await moveAndMeasure(8 * MiB);
    const large = await moveAndMeasure(64 * MiB);
    const growth = { put: (large.putPeak - small.putPeak) / MiB, read: (large.readPeak - small.readPeak) / MiB };
    expect({ put: growth.put < 40, read: growth.read < 40, growth }).toMatchObject({ put: true, read: true });
  });
});

describe('the CLI with DOSSIER_STORAGE__BLOBS=postgres', () => {
  let env: NodeJS.ProcessEnv;
  let home: string;
  const scan = (f: string) => path.join(fixturesDir, 'scans', f);
  const run = async (...args: string[]) => {
    const r = await dossier(args, env);
    if (r.code !== 0) throw new Error(`dossier ${args.join(' ')} → ${r.code}\n${r.stderr}`);
    return r;
  };

  beforeAll(async () => {
    home = await tempDir();
    env = testEnv(db.url, home, { DOSSIER_STORAGE__BLOBS: 'postgres', DOSSIER_MAIL__TRANSPORT: 'file' });
  });

  it('attaches scans, packs them and sends the package with every byte kept in PostgreSQL', async () => {
    const deal = (await run('record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json')).json()[0].ref as string;
    await run('attach', deal, scan('passport-smirnov.pdf'), scan('passport-smirnov-p2.jpg'), '--category', 'passport_scans');

    // pack build reads the scans back out of the blob store into the zip.
    const built = (await run('pack', 'build', deal, '--recipient', 'bank-sever', '--json')).json() as { parts: { file: string; sha256: string }[] }[];
    const part = built[0]!.parts[0]!;
    const zipBytes = await readFile(part.file);
    expect(sha(zipBytes)).toBe(part.sha256);
    const zip = new PizZip(zipBytes);
    for (const f of ['passport-smirnov.pdf', 'passport-smirnov-p2.jpg']) {
      expect(sha(zip.file(`Паспорт/${f}`)!.asNodeBuffer())).toBe(sha(await readFile(scan(f))));
    }

    // pack send refers to the stored zip; the worker streams it out of PostgreSQL into the email
    // (file transport: .eml), and records the sent bytes' checksum.
    const [mail] = (await run('pack', 'send', deal, '--recipient', 'bank-sever', '--json')).json() as { outbox: number }[];
    await run('worker', '--until-idle');
    const [row] = await sql<{ status: string; raw_sha256: string }>('SELECT status, sent_sha256 AS raw_sha256 FROM outbox WHERE id = $1', [mail!.outbox]);
    expect(row!.status).toBe('sent');
    const day = (await readdir(path.join(home, 'outbox')))[0]!;
    const emls = (await readdir(path.join(home, 'outbox', day))).filter((f) => f.endsWith('.eml'));
    const shas = await Promise.all(emls.map(async (f) => sha(await readFile(path.join(home, 'outbox', day, f)))));
    expect(shas).toContain(row!.raw_sha256);

    // Nothing went to the file system's blob folder, and every catalogued blob has its bytes here.
    expect(existsSync(path.join(home, 'blobs'))).toBe(false);
    expect(await sql('SELECT b.sha256 FROM blobs b LEFT JOIN blob_contents c USING (sha256) WHERE c.id IS NULL')).toEqual([]);
  });

  it('journals incoming mail and shows it back from the stored bytes', async () => {
    const file = path.join(fixturesDir, 'mail', '21-lawyer-reply-two-pdfs.eml');
    const [ingested] = (await run('mail', 'ingest', file, '--json')).json() as { id: number }[];
    const shown = (await run('mail', 'show', String(ingested!.id), '--json')).json() as { journal: { sha256: string }; parsed: { subject: string; attachments: unknown[] } };
    expect(shown.journal.sha256).toBe(sha(await readFile(file)));
    expect(shown.parsed.subject).not.toBe('');
    expect(shown.parsed.attachments).toHaveLength(2);
    expect(await sql('SELECT count(*)::int AS n FROM blob_contents WHERE sha256 = $1', [shown.journal.sha256])).toEqual([{ n: 1 }]);
  });

  it('says BLOB_MISSING through the CLI when a journaled message has no bytes', async () => {
    const [j] = await sql<{ id: number; sha256: string }>('SELECT id, sha256 FROM inbound_messages ORDER BY id DESC LIMIT 1');
    await sql('DELETE FROM blob_contents WHERE sha256 = $1', [j!.sha256]); // chunks go with it (cascade)
    const r = await dossier(['mail', 'show', String(j!.id)], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error BLOB_MISSING: The stored file ${j!.sha256} is missing from the PostgreSQL blob store`);
  });
});
