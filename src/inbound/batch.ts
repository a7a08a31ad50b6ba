import type { App } from '../app.js';
import { refsNamed } from '../text/refs.js';
import { clientNameMatches, newPassCache, type PassCache } from './facts.js';
import { journalBatch, type Arrival } from './journal.js';
import { parseMessage } from './parse.js';
import { OutcomeBuffer } from './outcomes.js';
import { knownResult, needsStaffCheck, processMessage, type IntakeResult } from './process.js';
import { staffCheck } from './trust.js';
import type { ParsedMessage } from './types.js';
import type { StaffAuthVerdict } from './verify.js';

// A fetched batch through intake: journaled with one statement, parsed, then processed in lanes —
// messages about different records at the same time (each in its own transaction), messages about
// the same record one after another in the order they came. A message's lane is the record it names
// (subject tag, plus-address), else the thread it answers, else its sender. Authenticated staff mail
// goes by its record first, also when it names it only in the forwarded subject or by the client's
// name: one manager's decisions on different deals are applied side by side, not one by one. A
// record found only by routing is guarded by the row lock its action takes.
//
// Keeping the sender's order matters for the per-sender counts of the rate limit; for
// authenticated staff mail (its own count, a guard against a looping mailbox) a count may lag by
// the messages the other lanes have in hand at that moment (at most LANES - 1). Mail that merely
// claims a staff address stays in its sender's lane: its answers are limited exactly.

/** Lanes run at once: the time per message is mostly waiting on the database. */
export const LANES = 4;

/**
 * Each lane holds one pooled connection while it acts, and a lane's transaction may need one more
 * briefly (a setting read once per pass): with as many lanes as connections they would wait on
 * each other for ever (seen with 16 lanes on the default pool of 10).
 */
const lanesFor = (app: App) => Math.max(1, Math.min(LANES, app.config.database.poolSize - 1));

export interface BatchItem<K> extends Arrival { key: K }

async function laneOf(app: App, cache: PassCache, m: ParsedMessage, staffAuth: StaffAuthVerdict | null): Promise<string> {
  const refs = refsNamed(m.subject, [...m.deliveredTo, ...m.to.map((a) => a.address), ...m.cc.map((a) => a.address)]);
  if (refs.length) return `ref:${refs.sort()[0]}`;
  if (staffAuth?.ok) {
    const named = [...new Set([...refsNamed(m.forwarded?.subject ?? '', []), ...(await clientNameMatches(app, app.db, cache, m))])];
    if (named.length === 1) return `ref:${named[0]}`;
  }
  const thread = m.references[0] ?? m.inReplyTo ?? m.bounce?.originalMessageId;
  if (thread) return `thread:${thread}`;
  return `from:${m.from?.address.toLowerCase() ?? ''}`;
}

/**
 * Journals the batch, parses it, asks the staff verdicts and chooses the lanes; returns what runs
 * the lanes. Running them calls `done` for each message once its outcome is committed, in the input
 * order within a lane; `shouldStop` is asked before each message (a worker stopping), and the ones
 * not started are left unprocessed (journaled, for the next pass). A mailbox pass prepares its next
 * batch while the lanes of this one run (the lanes mostly wait on the database, the parse is CPU),
 * and runs the batches one after another, so a record's mail stays in order across them.
 */
export async function prepareBatch<K>(app: App, items: BatchItem<K>[], done: (key: K, r: IntakeResult) => Promise<void> | void, opts: { cache?: PassCache; shouldStop?: () => boolean } = {}): Promise<() => Promise<void>> {
  const cache = opts.cache ?? newPassCache(app);
  const shouldStop = opts.shouldStop ?? (() => false);
  const rows = await journalBatch(app, items);
  // Outcomes that change nothing else are written together once the lanes are done (outcomes.ts);
  // their messages are `done` (moved out of the mailbox) only after that.
  const outcomes = new OutcomeBuffer(app.db);
  const held: [K, IntakeResult][] = [];
  const lanes = new Map<string, (() => Promise<void>)[]>();
  const seen = new Set<number>();
  const fresh: { row: (typeof rows)[number]['row']; item: BatchItem<K>; parsed: ParsedMessage | undefined }[] = [];
  for (let i = 0; i < items.length; i++) {
    const { row } = rows[i]!;
    const item = items[i]!;
    if (row.outcome || seen.has(row.id)) {
      // Decided before (found again in its mailbox), or the same bytes twice in the batch: only moved.
      const lane = lanes.get('known') ?? [];
      lane.push(async () => (row.outcome ? done(item.key, knownResult(row)) : undefined));
      lanes.set('known', lane);
      continue;
    }
    seen.add(row.id);
    fresh.push({ row, item, parsed: await parseMessage(item.raw, app.config.intake.limits).catch(() => undefined) });
  }
  // Staff verdicts all at once (a DKIM check may wait on DNS): they choose the lanes. One that
  // fails here is asked again, and its failure met, when the message is processed.
  const verdicts = await Promise.all(fresh.map(({ item, parsed }) => (parsed && needsStaffCheck(cache, parsed) ? staffCheck(app, item.raw, parsed, app.dnsResolver).catch(() => undefined) : null)));
  for (const [k, { row, item, parsed }] of fresh.entries()) {
    const staffAuth = verdicts[k];
    const lane = parsed ? await laneOf(app, cache, parsed, staffAuth ?? null) : `journal:${row.id}`;
    const list = lanes.get(lane) ?? [];
    list.push(async () => {
      if (shouldStop()) return;
      const r = await processMessage(app, row.id, { cache, row, raw: item.raw, outcomes, ...(parsed ? { parsed } : {}), ...(staffAuth !== undefined ? { staffAuth } : {}) });
      if (r && outcomes.holds(r.id)) held.push([item.key, r]);
      else if (r) await done(item.key, r);
    });
    lanes.set(lane, list);
  }
  return () => runLanes(app, lanes, outcomes, held, done);
}

async function runLanes<K>(app: App, lanes: Map<string, (() => Promise<void>)[]>, outcomes: OutcomeBuffer, held: [K, IntakeResult][], done: (key: K, r: IntakeResult) => Promise<void> | void): Promise<void> {
  // LANES workers take whole lanes from the queue, so a lane's messages stay in order.
  const queue = [...lanes.values()];
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(lanesFor(app), queue.length) }, async () => {
      for (let lane = queue.shift(); lane; lane = queue.shift()) {
        for (const step of lane) {
          try {
            await step();
          } catch (err) {
            errors.push(err);
            return; // this lane stops; its later messages stay journaled for the next pass
          }
        }
      }
    }),
  );
  // Written (and those messages moved) even when a lane failed: those outcomes were decided, and
  // the failed lane's later messages stay journaled for the next pass either way.
  const written = await outcomes.flush();
  await Promise.all(held.filter(([, r]) => written.has(r.id)).map(([key, r]) => done(key, r)));
  if (errors.length) throw errors[0];
}
