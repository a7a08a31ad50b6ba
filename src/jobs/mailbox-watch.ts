import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { PoolClient } from 'pg';
import type { App } from '../app.js';
import { drainFolder, ensureFolders, imapClient, mailboxLockKey, recordMailboxError, type MailboxConfig } from '../inbound/imap.js';
import { ensureMaildir, maildirPath, pollMaildir } from '../inbound/maildir.js';
import type { IntakeResult } from '../inbound/process.js';
import type { Logger } from './log.js';

// The long-running worker's mailbox watchers. Each holds its mailbox's advisory lock for as long as
// it reads it, so that of several workers (on several machines) exactly one reads a mailbox; the
// others stand by and take over within `standbySeconds` when the holder goes (its PostgreSQL session
// ends, and the lock with it). The holder wakes on IMAP IDLE (or a new file in the Maildir) and
// also makes a pass every pollSeconds, in case a notification was missed.

export interface WatchContext {
  app: App;
  log: Logger;
  signal: AbortSignal;
  onResult: (r: IntakeResult, where: string) => void;
}

/** Resolves after `ms`, or at once when the signal is aborted or `wake` is called. */
function pause(ms: number, signal: AbortSignal): { done: Promise<void>; wake: () => void } {
  let wake = () => {};
  const done = new Promise<void>((resolve) => {
    const t = setTimeout(finish, ms);
    t.unref();
    function finish() {
      clearTimeout(t);
      signal.removeEventListener('abort', finish);
      resolve();
    }
    wake = finish;
    signal.addEventListener('abort', finish, { once: true });
  });
  return { done, wake };
}

/** Takes the mailbox's advisory lock on a connection of its own, or says it is held elsewhere. */
async function takeLock(app: App, key: string): Promise<PoolClient | null> {
  const client = await app.db.connect();
  const ok = await client
    .query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key])
    .then((r) => r.rows[0]!.ok)
    .catch((err) => {
      client.release(err);
      throw err;
    });
  if (ok) return client;
  client.release();
  return null;
}

async function dropLock(client: PoolClient, key: string, broken: boolean): Promise<void> {
  if (broken) return client.release(true); // the session is gone, and the lock with it
  await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => {});
  client.release();
}

/**
 * Runs `hold` while holding the lock `key`; stands by while another worker holds it. Returns when
 * the signal is aborted. Errors (mailbox or database down) are logged and retried with backoff.
 */
async function underLock(ctx: WatchContext, name: string, key: string, hold: (lost: AbortSignal) => Promise<void>): Promise<void> {
  const { app, log, signal } = ctx;
  const standbyMs = app.config.worker.standbySeconds * 1000;
  let backoffMs = 1000;
  let standing = false;
  while (!signal.aborted) {
    let lock: PoolClient | null = null;
    try {
      lock = await takeLock(app, key);
    } catch (err) {
      log.warn({ event: 'mailbox_error', mailbox: name, error: (err as Error).message }, `mailbox ${name}: cannot reach the database`);
      await pause(backoffMs, signal).done;
      backoffMs = Math.min(backoffMs * 2, 30_000);
      continue;
    }
    if (!lock) {
      if (!standing) log.info({ event: 'mailbox_standby', mailbox: name }, `mailbox ${name}: another worker reads it; standing by`);
      standing = true;
      await pause(standbyMs, signal).done;
      continue;
    }
    standing = false;
    // The lock lives in this session: if the connection breaks, another worker may take over, so
    // this one must stop reading at once.
    const lost = new AbortController();
    const onLost = () => lost.abort();
    lock.on('error', onLost);
    signal.addEventListener('abort', onLost, { once: true });
    log.info({ event: 'mailbox_active', mailbox: name }, `mailbox ${name}: reading`);
    let failed = false;
    try {
      await hold(lost.signal);
      backoffMs = 1000;
    } catch (err) {
      failed = true;
      const code = (err as { code?: string }).code;
      if (!signal.aborted) log.warn({ event: 'mailbox_error', mailbox: name, ...(code ? { code } : {}), error: (err as Error).message }, `mailbox ${name}: ${code ? `${code} — ` : ''}${(err as Error).message}`);
    } finally {
      signal.removeEventListener('abort', onLost);
      lock.off('error', onLost);
      await dropLock(lock, key, lost.signal.aborted && !signal.aborted);
    }
    if (failed && !signal.aborted) {
      await pause(backoffMs, signal).done;
      backoffMs = Math.min(backoffMs * 2, 60_000);
    }
  }
}

/** Reads one IMAP mailbox until the signal is aborted: IDLE where allowed, a pass every pollSeconds. */
export function watchImap(ctx: WatchContext, mb: MailboxConfig): Promise<void> {
  const { app, log } = ctx;
  return underLock(ctx, mb.name, mailboxLockKey(mb.name), async (lost) => {
    const client = imapClient(mb);
    client.on('error', (err: Error) => log.warn({ event: 'mailbox_error', mailbox: mb.name, error: err.message }, `mailbox ${mb.name}: ${err.message}`));
    let nudge = () => {};
    let dirty = true;
    const onExists = () => {
      dirty = true;
      nudge();
    };
    const onClose = () => nudge();
    client.on('exists', onExists);
    client.on('close', onClose);
    try {
      try {
        await client.connect();
      } catch (err) {
        await recordMailboxError(app, mb.name, err as Error);
        throw err;
      }
      const folders = await ensureFolders(client, mb);
      await client.mailboxOpen(mb.folder);
      while (!lost.aborted) {
        if (!client.usable) throw new Error('the IMAP connection was closed');
        // Ends IDLE and brings the mailbox state up to date first: without it imapflow 2.1's first
        // UID SEARCH after IDLE sometimes came back empty here.
        await client.noop();
        dirty = false;
        const started = Date.now();
        const { results } = await drainFolder(app, client, mb, folders, (r) => ctx.onResult(r, `imap ${mb.name}`), () => lost.aborted);
        if (results.length) log.debug({ event: 'mailbox_pass', mailbox: mb.name, messages: results.length, ms: Date.now() - started });
        if (dirty || lost.aborted) continue; // mail arrived during the pass
        const p = pause(mb.pollSeconds * 1000, lost);
        nudge = p.wake;
        // IDLE until new mail (an "exists" event wakes the pause) or the next pass; the next
        // command ends it. On a server without IDLE imapflow polls with NOOP instead.
        if (mb.idle) void client.idle().catch(() => {});
        await p.done;
        nudge = () => {};
      }
    } finally {
      client.off('exists', onExists);
      client.off('close', onClose);
      await client.logout().catch(() => client.close());
    }
  });
}

/** Reads the Maildir until the signal is aborted: woken by new files, a pass every maildirPollSeconds. */
export function watchMaildir(ctx: WatchContext): Promise<void> {
  const { app } = ctx;
  const dir = maildirPath(app);
  return underLock(ctx, 'maildir', `dossier:maildir:${path.resolve(dir)}`, async (lost) => {
    await ensureMaildir(dir);
    let nudge = () => {};
    let dirty = true;
    let watcher: FSWatcher | null = null;
    try {
      // inotify on new/: a delivery agent writes to tmp/ and renames into new/.
      watcher = watch(path.join(dir, 'new'), () => {
        dirty = true;
        nudge();
      });
      watcher.on('error', () => {}); // the periodic pass still runs
    } catch {
      watcher = null;
    }
    try {
      while (!lost.aborted) {
        dirty = false;
        await pollMaildir(app, (r, file) => ctx.onResult(r, `maildir ${file}`), () => lost.aborted);
        if (dirty || lost.aborted) continue;
        const p = pause(app.config.worker.maildirPollSeconds * 1000, lost);
        nudge = p.wake;
        await p.done;
        nudge = () => {};
      }
    } finally {
      watcher?.close();
    }
  });
}
