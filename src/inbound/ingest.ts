import type { App } from '../app.js';
import { DossierError } from '../errors.js';
import { getJournal, journal, type JournalRow } from './journal.js';
import { isMbox, splitMbox } from './mbox.js';
import { processMessage, type IntakeResult } from './process.js';

// Single messages from the command line or an MTA pipe (`dossier mail ingest [file…]`, standard input).

export async function ingest(app: App, raw: Buffer, sourceRef: string): Promise<IntakeResult & { duplicate: boolean }> {
  const { row, duplicate } = await journal(app, raw, { mailbox: 'stdin', sourceRef });
  if (duplicate && row.outcome) return { id: row.id, outcome: row.outcome, reason: `already processed: ${row.reason ?? ''}`, ref: null, outbox: [], duplicate };
  const r = await processMessage(app, row.id);
  return { ...(r ?? { id: row.id, outcome: 'failed' as const, reason: 'being processed by another worker', ref: null, outbox: [] }), duplicate };
}

/** One message taken in from a file: its result, or why it could not be taken in (outcome "failed", id null). */
export type FileMessage = Omit<IntakeResult, 'id'> & {
  id: number | null;
  duplicate: boolean;
  /** The file's name as given. */
  file: string;
  /** For an mbox: which message of how many (1-based); a plain .eml is 1 of 1. */
  part: number;
  parts: number;
};

/**
 * Takes in every file given, whatever happens to the others: an mbox is split into its messages,
 * an empty or unreadable file is a failed entry under its name, and one message's failure does
 * not stop the next. `read` errors come in as `error`.
 */
export async function ingestFiles(app: App, inputs: { name: string; raw: Buffer | null; error?: string }[]): Promise<FileMessage[]> {
  const out: FileMessage[] = [];
  const failed = (file: string, reason: string, part = 1, parts = 1): FileMessage => ({ id: null, outcome: 'failed', reason, ref: null, outbox: [], duplicate: false, file, part, parts });
  for (const input of inputs) {
    if (!input.raw) {
      out.push(failed(input.name, input.error ?? 'the file could not be read'));
      continue;
    }
    if (input.raw.length === 0) {
      out.push(failed(input.name, 'the file is empty: there is no message in it'));
      continue;
    }
    const messages = isMbox(input.raw) ? splitMbox(input.raw) : [input.raw];
    if (messages.length === 0) {
      out.push(failed(input.name, 'an mbox file with no message in it'));
      continue;
    }
    for (let i = 0; i < messages.length; i++) {
      const ref = messages.length > 1 ? `${input.name}#${i + 1}` : input.name;
      try {
        out.push({ ...(await ingest(app, messages[i]!, ref)), file: input.name, part: i + 1, parts: messages.length });
      } catch (err) {
        // A full disk or the database gone: said with its code; the file was not taken in, so the
        // same command later takes it (nothing is half-stored).
        const code = err instanceof DossierError ? `${err.code}: ` : '';
        out.push(failed(input.name, `${code}${(err as Error).message}${code ? ' Not taken in; run the same command again once fixed.' : ''}`, i + 1, messages.length));
      }
    }
  }
  return out;
}

/** Processes a journaled message again (after a fix, or a quarantine that was wrong). */
export async function replay(app: App, id: number, opts: { force?: boolean } = {}): Promise<IntakeResult> {
  const row: JournalRow = await getJournal(app.db, id);
  if (!row.sha256) throw new DossierError('USAGE', `Message #${id} could not be read from its file (${row.unreadable}); there is nothing to replay.`, { hint: 'Fix the file (its permissions, or split it) and put it back in the Maildir\'s new/ folder.' });
  if ((row.outcome === 'applied' || row.outcome === 'partial') && !opts.force) {
    throw new DossierError('USAGE', `Message #${id} was applied already; replaying it would apply it twice.`, { hint: 'Use --force only if its effect was undone by hand.' });
  }
  await app.db.query('UPDATE inbound_messages SET outcome = NULL, reason = NULL WHERE id = $1', [id]);
  const r = await processMessage(app, id);
  return r ?? { id, outcome: 'failed', reason: 'being processed by another worker', ref: null, outbox: [] };
}
