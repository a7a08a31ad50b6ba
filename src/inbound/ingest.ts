import type { App } from '../app.js';
import { DossierError } from '../errors.js';
import { getJournal, journal, type JournalRow } from './journal.js';
import { processMessage, type IntakeResult } from './process.js';

// Single messages from the command line or an MTA pipe (`dossier mail ingest [file…]`, standard input).

export async function ingest(app: App, raw: Buffer, sourceRef: string): Promise<IntakeResult & { duplicate: boolean }> {
  const { row, duplicate } = await journal(app, raw, { mailbox: 'stdin', sourceRef });
  if (duplicate && row.outcome) return { id: row.id, outcome: row.outcome, reason: `already processed: ${row.reason ?? ''}`, ref: null, outbox: [], duplicate };
  const r = await processMessage(app, row.id);
  return { ...(r ?? { id: row.id, outcome: 'failed' as const, reason: 'being processed by another worker', ref: null, outbox: [] }), duplicate };
}

/** Processes a journaled message again (after a fix, or a quarantine that was wrong). */
export async function replay(app: App, id: number, opts: { force?: boolean } = {}): Promise<IntakeResult> {
  const row: JournalRow = await getJournal(app.db, id);
  if (row.outcome === 'applied' && !opts.force) {
    throw new DossierError('USAGE', `Message #${id} was applied already; replaying it would apply it twice.`, { hint: 'Use --force only if its effect was undone by hand.' });
  }
  await app.db.query('UPDATE inbound_messages SET outcome = NULL, reason = NULL WHERE id = $1', [id]);
  const r = await processMessage(app, id);
  return r ?? { id, outcome: 'failed', reason: 'being processed by another worker', ref: null, outbox: [] };
}
