import { ImapFlow } from 'imapflow';
import type { App } from '../app.js';
import { prepareBatch } from './batch.js';
import { newPassCache } from './facts.js';
import type { IntakeResult } from './process.js';

// IMAP mailboxes (imapflow). One pass over a folder: every message is journaled (checkpoint: the
// folder's UIDVALIDITY and the message UID), processed, and only after the database commit moved to
// the processed or quarantine folder. A crash before the move leaves the message in place; the next
// pass finds it in the journal and only moves it. Each mailbox is read by one worker at a time (a
// PostgreSQL advisory lock on its name): `pollImap` takes it for one pass, the long-running worker
// (`watchImap` in jobs/mailbox-watch.ts) holds it while it IDLEs on the folder.

export type MailboxConfig = App['config']['intake']['mailboxes'][number];

export function imapClient(mb: MailboxConfig): ImapFlow {
  return new ImapFlow({
    host: mb.host,
    port: mb.port,
    secure: mb.security === 'tls',
    doSTARTTLS: mb.security === 'starttls' ? true : mb.security === 'none' ? false : undefined,
    auth: { user: mb.user, pass: mb.password },
    logger: false,
    tls: { rejectUnauthorized: !mb.allowSelfSigned },
    connectionTimeout: 15_000,
    // imapflow would start IDLE only after 15 s without a command; the watcher IDLEs itself, right
    // after each pass, so that new mail is seen at once.
    disableAutoIdle: true,
  } as ConstructorParameters<typeof ImapFlow>[0]);
}

export const mailboxLockKey = (name: string) => `dossier:mailbox:${name}`;

const folderPath = (f: string) => f.split('/');
const BATCH = 25;

async function ensureFolder(client: ImapFlow, f: string): Promise<string> {
  try {
    return (await client.mailboxCreate(folderPath(f))).path;
  } catch (err) {
    // Already there: find its real path (the server's hierarchy separator may not be "/").
    const list = await client.list();
    const want = folderPath(f).join('\u0000');
    const hit = list.find((m) => m.path.split(m.delimiter).join('\u0000') === want);
    if (hit) return hit.path;
    throw err;
  }
}

export interface Folders { processed: string; quarantine: string }

export async function ensureFolders(client: ImapFlow, mb: MailboxConfig): Promise<Folders> {
  return { processed: await ensureFolder(client, mb.processedFolder), quarantine: await ensureFolder(client, mb.quarantineFolder) };
}

export interface PollReport { mailbox: string; seen: number; results: IntakeResult[]; skipped?: string }

/**
 * One pass over the folder on a connected client, the mailbox lock already held by the caller.
 * `shouldStop` is asked between messages: a worker that is shutting down hands the rest back (they
 * stay in the folder for the next pass).
 */
export async function drainFolder(app: App, client: ImapFlow, mb: MailboxConfig, folders: Folders, onResult: (r: IntakeResult) => void, shouldStop: () => boolean = () => false): Promise<{ seen: number; results: IntakeResult[] }> {
  await app.db.query(`INSERT INTO mailbox_state (mailbox, last_poll_at) VALUES ($1, now()) ON CONFLICT (mailbox) DO UPDATE SET last_poll_at = now()`, [mb.name]);
  const results: IntakeResult[] = [];
  let seen = 0;
  try {
    const lock = await client.getMailboxLock(mb.folder);
    try {
      const box = client.mailbox as { uidValidity: bigint | number };
      const uidvalidity = Number(box.uidValidity);
      const uids = ((await client.search({ all: true }, { uid: true })) || []) as number[];
      const cache = newPassCache(app);
      seen = uids.length;
      // A fetched batch, journaled and parsed, waiting for its lanes to run (see prepareBatch).
      type Pending = { uids: number[]; run: Promise<() => Promise<void>>; moves: { processed: number[]; quarantine: number[] }; results: IntakeResult[] };
      let pending: Pending | null = null;
      /** Runs a prepared batch's lanes; moves its messages (one MOVE per folder) after their commits. */
      const finish = async (b: Pending) => {
        try {
          await (await b.run)();
        } finally {
          for (const [folder, list] of [[folders.processed, b.moves.processed], [folders.quarantine, b.moves.quarantine]] as const) {
            if (list.length) await client.messageMove(list.join(','), folder, { uid: true });
          }
          for (const r of b.results) {
            results.push(r);
            onResult(r);
          }
        }
        await app.db.query(`UPDATE mailbox_state SET uidvalidity = $2, last_uid = GREATEST(COALESCE(last_uid, 0), $3) WHERE mailbox = $1`, [mb.name, uidvalidity, Math.max(...b.uids)]);
      };
      for (let i = 0; i < uids.length && !shouldStop(); i += BATCH) {
        const batch = uids.slice(i, i + BATCH);
        // The batch before runs its lanes while this one is fetched, journaled and parsed. It was
        // journaled first (its prepare is awaited before this one's starts): ids keep arrival order.
        const before = pending;
        pending = null;
        if (before) await before.run;
        const running = before ? finish(before) : null;
        running?.catch(() => {}); // met below
        const sources: { uid: number; source: Buffer }[] = [];
        try {
          for await (const msg of client.fetch(batch.join(','), { uid: true, source: true }, { uid: true })) {
            if (msg.source) sources.push({ uid: msg.uid, source: msg.source });
          }
        } finally {
          await running;
        }
        const moves = { processed: [] as number[], quarantine: [] as number[] };
        const batchResults: IntakeResult[] = [];
        const run = prepareBatch(
          app,
          sources.map(({ uid, source }) => ({ raw: source, origin: { mailbox: mb.name, uidvalidity, uid }, key: uid })),
          (uid, r) => {
            (r.outcome === 'applied' || r.outcome === 'partial' || r.outcome === 'ignored' ? moves.processed : moves.quarantine).push(uid);
            batchResults.push(r);
          },
          { cache, shouldStop },
        );
        run.catch(() => {}); // met when it is finished
        pending = { uids: batch, run, moves, results: batchResults };
      }
      if (pending) await finish(pending);
    } finally {
      lock.release();
    }
    await app.db.query(`UPDATE mailbox_state SET last_ok_at = now(), last_error = NULL WHERE mailbox = $1`, [mb.name]);
  } catch (err) {
    await recordMailboxError(app, mb.name, err as Error);
    throw err;
  }
  return { seen, results };
}

/** A login or folder problem, for `dossier status` and `doctor`. */
export async function recordMailboxError(app: App, mailbox: string, err: Error): Promise<void> {
  await app.db
    .query(`INSERT INTO mailbox_state (mailbox, last_poll_at, last_error) VALUES ($1, now(), $2) ON CONFLICT (mailbox) DO UPDATE SET last_poll_at = now(), last_error = $2`, [mailbox, err.message])
    .catch(() => {});
}

/** One pass over a mailbox (`worker --until-idle`): lock, connect, drain, log out, unlock. */
export async function pollImap(app: App, mb: MailboxConfig, onResult: (r: IntakeResult) => void = () => {}): Promise<PollReport> {
  const lockClient = await app.db.connect();
  const key = mailboxLockKey(mb.name);
  try {
    const got = (await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key])).rows[0]!.ok;
    if (!got) return { mailbox: mb.name, seen: 0, results: [], skipped: 'another worker is polling it' };
    const client = imapClient(mb);
    try {
      let folders: Folders;
      try {
        await client.connect();
        folders = await ensureFolders(client, mb);
      } catch (err) {
        await recordMailboxError(app, mb.name, err as Error);
        throw err;
      }
      const { seen, results } = await drainFolder(app, client, mb, folders, onResult);
      return { mailbox: mb.name, seen, results };
    } finally {
      await client.logout().catch(() => client.close());
    }
  } finally {
    await lockClient.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => {});
    lockClient.release();
  }
}
