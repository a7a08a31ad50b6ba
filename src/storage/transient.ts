import { isTransientDbError } from '../db/pool.js';
import { DossierError } from '../errors.js';

// Storage that fails for now — a full or read-only disk, an I/O error, a quota, too many open
// files, PostgreSQL out of disk — says nothing about the message being stored: intake leaves it
// for the next pass (journaled or still in its mailbox) with one clear log line, never a permanent
// failure and never "this is a bug" (issue 13).

const FS_CODES = new Set(['ENOSPC', 'EROFS', 'EIO', 'EDQUOT', 'EMFILE', 'ENFILE']);
/** PostgreSQL: disk_full, out_of_memory, io_error. */
const PG_CODES = new Set(['53100', '53200', '58030']);

/** The code of a passing storage failure anywhere in the error's cause chain, or null. */
export function transientStorageCode(err: unknown): string | null {
  for (let e = err as { code?: unknown; cause?: unknown } | null | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (FS_CODES.has(code) || PG_CODES.has(code)) return code;
  }
  return null;
}

/**
 * The error to throw for a passing failure while `doing` something (a DossierError with its code
 * from the catalogue), or null when the error is something else.
 */
export function passingFailure(err: unknown, doing: string, hint: string): DossierError | null {
  if (err instanceof DossierError && (err.code === 'STORAGE_UNAVAILABLE' || err.code === 'DB_UNAVAILABLE')) return err;
  const code = transientStorageCode(err);
  if (code) {
    return new DossierError('STORAGE_UNAVAILABLE', `Storage failed while ${doing}: ${code} (${(err as Error).message}).`, { hint: `${hint} Free disk space, make the file system writable or fix the device (${code}).`, cause: err, details: { errno: code } });
  }
  if (isTransientDbError(err)) return new DossierError('DB_UNAVAILABLE', `The database went away while ${doing} (${(err as Error).message}).`, { hint, cause: err });
  return null;
}
