import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { createPool, type Db } from '../db/pool.js';
import { DossierError } from '../errors.js';
import type { BlobStore, StoredBlob } from './blobs.js';

/** The size of one blob_chunks row: large enough for few round trips, small enough to hold one at a time. */
export const CHUNK_BYTES = 1024 * 1024;

const SHA256 = /^[0-9a-f]{64}$/;

/** Connections of the store's own pool: puts run one transaction each, reads one query per chunk. */
export const BLOB_POOL_SIZE = 4;

/**
 * Blobs kept in PostgreSQL (blob_contents + blob_chunks, migration 0005), for installations whose
 * workers run on several machines and share only the database.
 *
 * Give it a pool of its own (see app.ts): callers store blobs while they hold a client of the main
 * pool in a transaction (an incoming attachment, an outbox message), and a put needs a client for
 * itself; drawing both from one small pool could leave every client waiting for another.
 */
export class PgBlobStore implements BlobStore {
  constructor(
    readonly db: Db,
    readonly chunkBytes = CHUNK_BYTES,
    private readonly ownsPool = false,
  ) {}

  /** A store on a small pool of its own, with the same connection settings as the app's pool. */
  static withOwnPool(main: Db, size = BLOB_POOL_SIZE): PgBlobStore {
    const o = main.options;
    // pg-pool keeps the password as a non-enumerable property (so it is not logged): copy it by name.
    return new PgBlobStore(createPool({ ...o, password: o.password }, size), CHUNK_BYTES, true);
  }

  /** Ends the pool if this store opened it. */
  async close(): Promise<void> {
    if (this.ownsPool) await this.db.end().catch(() => {});
  }

  /**
   * Streams the source into chunk rows inside one transaction, hashing as it goes, and commits only
   * when the content row is inserted. Anything that goes wrong (the source fails, the connection
   * drops, the process dies) rolls back: no half-stored blob is ever visible or left behind.
   */
  async put(source: Readable | string | Buffer): Promise<StoredBlob> {
    const input = typeof source === 'string' ? createReadStream(source) : Buffer.isBuffer(source) ? Readable.from([source]) : source;
    let client;
    try {
      client = await this.db.connect();
    } catch (err) {
      input.destroy();
      throw err;
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      // The id comes first so that chunks can be written before the sha256 is known.
      const id = (await client.query<{ id: number }>("SELECT nextval(pg_get_serial_sequence('blob_contents', 'id')) AS id")).rows[0]!.id;
      const hash = createHash('sha256');
      let size = 0;
      let seq = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        await client.query('INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)', [id, seq++, data]);
      };
      // for await pulls one piece at a time and waits for each insert, so a fast source is held back
      // by the database instead of piling up in memory; leaving the loop early destroys the source.
      for await (const piece of input as AsyncIterable<Buffer | Uint8Array | string>) {
        const b = typeof piece === 'string' ? Buffer.from(piece) : Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        hash.update(b);
        size += b.length;
        // Re-cut into rows of chunkBytes whatever the source's piece sizes (64 KiB file reads, one
        // big in-memory message): a reader then never has to take more than one such row at once.
        for (let off = 0; off < b.length; ) {
          const take = Math.min(this.chunkBytes - pendingBytes, b.length - off);
          pending.push(b.subarray(off, off + take));
          pendingBytes += take;
          off += take;
          if (pendingBytes === this.chunkBytes) await flush();
        }
      }
      if (pendingBytes > 0) await flush();
      const sha256 = hash.digest('hex');
      const inserted = await client.query(
        'INSERT INTO blob_contents (id, sha256, size, chunks) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING',
        [id, sha256, size, seq],
      );
      // Already stored (earlier, or by a concurrent put that committed first): drop this copy.
      await client.query(inserted.rowCount === 1 ? 'COMMIT' : 'ROLLBACK');
      return { sha256, size };
    } catch (err) {
      input.destroy();
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e; // the connection itself failed: do not give it back to the pool
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async open(sha256: string): Promise<Readable> {
    const row = await this.find(sha256);
    if (!row) {
      throw new DossierError('BLOB_MISSING', `The stored file ${sha256} is missing from the PostgreSQL blob store (table blob_contents in ${this.where()}).`, {
        hint: 'storage.blobs is postgres: files stored while it was fs are still under <home>/blobs and are not moved when the setting changes. Copy them in, or restore the database from a backup; the blobs table still knows the file by its checksum.',
      });
    }
    const { db } = this;
    const where = () => this.where();
    // One row per pull, fetched only when the consumer asks for more: a 500 MB blob is never in
    // memory, and an abandoned reader holds no connection (each chunk is its own pool query).
    async function* chunks(): AsyncGenerator<Buffer> {
      const hash = createHash('sha256');
      let size = 0;
      for (let seq = 0; seq < row!.chunks; seq++) {
        // base64 rather than pg's default hex text: a third less on the wire, and a smaller string
        // for the client to hold while it decodes (measured: about half the memory per chunk).
        const text = (await db.query<{ data: string }>("SELECT encode(data, 'base64') AS data FROM blob_chunks WHERE blob_id = $1 AND seq = $2", [row!.id, seq])).rows[0]?.data;
        const data = text === undefined ? undefined : Buffer.from(text, 'base64'); // skips encode()'s line breaks
        if (!data) {
          throw new DossierError('BLOB_CORRUPT', `The stored file ${sha256} lacks chunk ${seq + 1} of ${row!.chunks} in the PostgreSQL blob store (table blob_chunks in ${where()}).`, {
            hint: 'Restore the database from a backup; the file cannot be read back whole.',
          });
        }
        hash.update(data);
        size += data.length;
        yield data;
      }
      // Checked while streaming, at no extra read: a reader is told at the end if the bytes were not
      // the ones stored under this name.
      const actual = hash.digest('hex');
      if (size !== row!.size || actual !== sha256) {
        throw new DossierError('BLOB_CORRUPT', `The stored file ${sha256} reads back as ${size} bytes with checksum ${actual} from the PostgreSQL blob store (${where()}).`, {
          hint: 'Restore the database from a backup.',
        });
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.find(sha256)) !== null;
  }

  private async find(sha256: string): Promise<{ id: number; size: number; chunks: number } | null> {
    if (!SHA256.test(sha256)) throw new DossierError('INTERNAL', `not a sha256: ${sha256}`);
    const r = await this.db.query<{ id: string | number; size: string | number; chunks: number }>('SELECT id, size, chunks FROM blob_contents WHERE sha256 = $1', [sha256]);
    const row = r.rows[0];
    // Number(): bigint columns arrive as text unless pool.ts's int8 parser is loaded.
    return row ? { id: Number(row.id), size: Number(row.size), chunks: row.chunks } : null;
  }

  /** The database, named for messages (never with its password). */
  private where(): string {
    const o = this.db.options;
    let name = o.database;
    if (!name && o.connectionString) {
      try {
        name = decodeURIComponent(new URL(o.connectionString).pathname.slice(1));
      } catch {
        /* an unusual connection string: fall back to the generic name */
      }
    }
    return name ? `database "${name}"` : 'the database';
  }
}
