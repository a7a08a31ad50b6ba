import { mkdir, open, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type { App } from '../app.js';
import { DossierError } from '../errors.js';
import { prepareBatch, type BatchItem } from './batch.js';
import { newPassCache } from './facts.js';
import { journalUnreadable } from './journal.js';
import { knownResult, type IntakeResult } from './process.js';

// The embedded default source: a Maildir. A message in new/ or cur/ is journaled, processed, and only
// then moved to the Maildir++ folder .Processed or .Quarantine (a crash before the move leaves it
// where it was; the journal knows it by its bytes and it is not applied twice).

export function maildirPath(app: App): string {
  return app.config.intake.maildir ? path.resolve(app.config.intake.maildir) : path.join(app.home, 'inbox');
}

export async function ensureMaildir(dir: string): Promise<void> {
  for (const sub of ['tmp', 'new', 'cur', '.Processed/cur', '.Processed/new', '.Processed/tmp', '.Quarantine/cur', '.Quarantine/new', '.Quarantine/tmp']) {
    await mkdir(path.join(dir, sub), { recursive: true });
  }
}

// Quarantined, refused and failed messages go to .Quarantine (kept for `dossier mail show|replay`).
const folderFor = (outcome: string) => (outcome === 'applied' || outcome === 'partial' || outcome === 'ignored' ? '.Processed' : '.Quarantine');

const CHUNK = 50;

/** The most a file may be to be read whole (Node reads no more than 2 GiB - 1 at once). */
const MAX_READ = 2 ** 31 - 1;
/** Errors that say nothing about the file: it stays where it is for the next pass. */
const PASSING = new Set(['EMFILE', 'ENFILE', 'EIO', 'EAGAIN', 'ENOMEM', 'EBUSY', 'ETIMEDOUT']);

type Read = { raw: Buffer } | { unreadable: string; size: number; head: Buffer | null } | { skip: true; error?: string };

/** A Maildir file's bytes; or why it can never be read; or skip (gone meanwhile, or a passing error). */
export async function readMaildirFile(file: string): Promise<Read> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return { unreadable: `not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : 'a device'})`, size: st.size, head: null };
    if (st.size > MAX_READ) return { unreadable: `${Math.round(st.size / 1024 / 1024)} MB, more than the 2 GiB a file can be read at once`, size: st.size, head: await head(file) };
    return { raw: await readFile(file) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOENT') return { skip: true }; // taken by another worker meanwhile
    if (PASSING.has(code)) return { skip: true, error: `${code} (${(err as Error).message})` }; // tried again next pass
    return { unreadable: `${code ? code + ': ' : ''}${(err as Error).message}`, size: 0, head: null };
  }
}

async function head(file: string): Promise<Buffer | null> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** One pass over new/ and cur/; `shouldStop` is asked between messages (a worker shutting down). */
export async function pollMaildir(app: App, onResult: (r: IntakeResult, file: string) => void = () => {}, shouldStop: () => boolean = () => false): Promise<IntakeResult[]> {
  const dir = maildirPath(app);
  await ensureMaildir(dir);
  const results: IntakeResult[] = [];
  const cache = newPassCache(app);
  const passing: string[] = [];
  // The batch journaled and parsed, its lanes not yet run. The next batch is journaled only after
  // it (journal ids are the arrival order the per-sender counts go by), and prepared while it runs.
  let ready: Promise<() => Promise<void>> | null = null;
  const preparedBefore = async () => {
    const run = ready;
    ready = null;
    return run ? await run : null;
  };
  for (const sub of ['new', 'cur']) {
    const names = (await readdir(path.join(dir, sub))).filter((n) => !n.startsWith('.')).sort();
    for (let i = 0; i < names.length && !shouldStop(); i += CHUNK) {
      const batch: BatchItem<string>[] = [];
      const chunk = names.slice(i, i + CHUNK);
      // Read at once (the chunk is held in memory either way): one after another, each file was two
      // trips to the thread pool with the main thread waiting.
      const reads = await Promise.all(chunk.map((name) => readMaildirFile(path.join(dir, sub, name))));
      for (const [k, name] of chunk.entries()) {
        const read = reads[k]!;
        if ('raw' in read && read.raw.length) batch.push({ raw: read.raw, origin: { mailbox: 'maildir', sourceRef: name }, key: name });
        else if ('skip' in read && read.error) passing.push(`${name}: ${read.error}`);
        else if ('unreadable' in read || ('raw' in read && !read.raw.length)) {
          // Journaled (quarantined, with why) and moved out of the way: never left in new/ unseen.
          const why = 'unreadable' in read ? read.unreadable : 'an empty file';
          const { row } = await journalUnreadable(app, { mailbox: 'maildir', sourceRef: name }, why, 'size' in read ? read.size : 0, 'head' in read ? read.head : null);
          await rename(path.join(dir, sub, name), path.join(dir, '.Quarantine', 'cur', name.includes(':2,') ? name : `${name}:2,S`)).catch(() => {});
          const r = knownResult(row);
          results.push(r);
          onResult(r, name);
        }
      }
      const previous = await preparedBefore();
      ready = prepareBatch(
        app,
        batch,
        async (name, r) => {
          await rename(path.join(dir, sub, name), path.join(dir, folderFor(r.outcome), 'cur', name.includes(':2,') ? name : `${name}:2,S`)).catch(() => {});
          results.push(r);
          onResult(r, name);
        },
        { cache, shouldStop },
      );
      ready.catch(() => {}); // a failure is met when the batch is run
      // The previous batch's lanes run while this one is journaled and parsed.
      if (previous) await previous();
    }
    await (await preparedBefore())?.();
  }
  // Files that could not be read for now (too many open files, an I/O error): the others were
  // taken; these stay where they are, said once for the pass.
  if (passing.length) {
    throw new DossierError('STORAGE_UNAVAILABLE', `${passing.length} Maildir file(s) could not be read now: ${passing.slice(0, 3).join('; ')}${passing.length > 3 ? '; …' : ''}.`, { hint: 'They stay in the Maildir and are read on the next pass.' });
  }
  return results;
}
