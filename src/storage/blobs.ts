import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DossierError } from '../errors.js';

export interface StoredBlob { sha256: string; size: number }

/** A pass-through stream that hashes and counts what flows through it; `digest()` once it has ended. */
export function hashingTap(): { tap: Transform; digest: () => StoredBlob } {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return { tap, digest: () => ({ sha256: hash.digest('hex'), size }) };
}

/** Read size of the file store's streams. */
const READ_BYTES = 1024 * 1024;

/**
 * Content-addressed storage: a blob's name is the sha256 of its bytes, so the same file is kept once
 * and a stored file can be checked against its name. Bytes are streamed, never held whole in memory.
 */
export interface BlobStore {
  /** A stream, a file path, or bytes already in memory (a parsed attachment, a built email). */
  put(source: Readable | string | Buffer): Promise<StoredBlob>;
  open(sha256: string): Promise<Readable>;
  has(sha256: string): Promise<boolean>;
}

/** Files under <root>/ab/cd/<sha256>, written to a temporary name and renamed into place. */
export class FsBlobStore implements BlobStore {
  /** Directories known to exist: intake stores several blobs per message, a mkdir each was measurable. */
  private readonly made = new Set<string>();

  constructor(readonly root: string) {}

  private async dir(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new DossierError('INTERNAL', `not a sha256: ${sha256}`);
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async put(source: Readable | string | Buffer): Promise<StoredBlob> {
    const tmpDir = path.join(this.root, 'tmp');
    await this.dir(tmpDir);
    const tmp = path.join(tmpDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
    if (Buffer.isBuffer(source)) return this.putBytes(source, tmp);
    const { tap, digest } = hashingTap();
    const input = typeof source === 'string' ? createReadStream(source) : source;
    try {
      await pipeline(input, tap, createWriteStream(tmp, { flags: 'wx' }));
      const { sha256, size } = digest();
      await this.settle(tmp, sha256);
      return { sha256, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Bytes in memory: hashed at once, written in one call (no stream machinery per small blob). */
  private async putBytes(bytes: Buffer, tmp: string): Promise<StoredBlob> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    try {
      await writeFile(tmp, bytes, { flag: 'wx' });
      await this.settle(tmp, sha256);
      return { sha256, size: bytes.length };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  private async settle(tmp: string, sha256: string): Promise<void> {
    const final = this.pathOf(sha256);
    try {
      await this.dir(path.dirname(final));
      await rename(tmp, final); // atomic; the same content written twice lands on the same name
    } catch (err) {
      // A directory removed behind our back (a restore, a cleanup): forget what we knew and try once more.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.made.clear();
      await this.dir(path.dirname(final));
      await this.dir(path.dirname(tmp));
      await rename(tmp, final);
    }
  }

  async open(sha256: string): Promise<Readable> {
    const file = this.pathOf(sha256);
    if (!(await this.has(sha256))) {
      throw new DossierError('BLOB_MISSING', `The stored file ${sha256} is missing from ${this.root}.`, {
        hint: 'Restore the blob directory from a backup; the database still knows the file by its checksum.',
      });
    }
    // 1 MiB reads: a scan streamed into a zip passes through half a dozen stream stages per chunk,
    // and at the default 64 KiB that per-chunk work showed in the package build's profile.
    return createReadStream(file, { highWaterMark: READ_BYTES });
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.pathOf(sha256)).then(() => true, () => false);
  }
}
