import type { App } from '../app.js';
import { refsNamed } from '../text/refs.js';
import { newPassCache, type PassCache } from './facts.js';
import { journalBatch, type Arrival } from './journal.js';
import { parseMessage } from './parse.js';
import { OutcomeBuffer } from './outcomes.js';
import { knownResult, processMessage, type IntakeResult } from './process.js';
import type { ParsedMessage } from './types.js';

// A fetched batch through intake: journaled with one statement, parsed, then processed in lanes —
// messages about different records at the same time (each in its own transaction), messages about
// the same record one after another in the order they came. A message's lane is the record it names
// (subject tag, plus-address), else the thread it answers, else its sender; a record found only by
// routing (a client's name) is guarded by the row lock its action takes.

/** Lanes run at once: the time per message is mostly waiting on the database. */
export const LANES = 4;

/**
 * Each lane holds one pooled connection while it acts, and a lane's transaction may need one more
 * briefly (a setting read once per pass): with as many lanes as connections they would wait on
 * each other for ever (seen with 16 lanes on the default pool of 10).
 */
const lanesFor = (app: App) => Math.max(1, Math.min(LANES, app.config.database.poolSize - 1));

export interface BatchItem<K> extends Arrival { key: K }

function laneOf(m: ParsedMessage): string {
  const refs = refsNamed(m.subject, [...m.deliveredTo, ...m.to.map((a) => a.address), ...m.cc.map((a) => a.address)]);
  if (refs.length) return `ref:${refs.sort()[0]}`;
  const thread = m.references[0] ?? m.inReplyTo ?? m.bounce?.originalMessageId;
  if (thread) return `thread:${thread}`;
  return `from:${m.from?.address.toLowerCase() ?? ''}`;
}

/**
 * Journals and processes the batch; calls `done` for each message once its outcome is committed,
 * in the input order within a lane. `shouldStop` is asked before each message (a worker stopping):
 * the ones not started are left unprocessed (journaled, for the next pass).
 */
export async function intakeBatch<K>(app: App, items: BatchItem<K>[], done: (key: K, r: IntakeResult) => Promise<void> | void, opts: { cache?: PassCache; shouldStop?: () => boolean } = {}): Promise<void> {
  const cache = opts.cache ?? newPassCache(app);
  const shouldStop = opts.shouldStop ?? (() => false);
  const rows = await journalBatch(app, items);
  // Outcomes that change nothing else are written together once the lanes are done (outcomes.ts);
  // their messages are `done` (moved out of the mailbox) only after that.
  const outcomes = new OutcomeBuffer(app.db);
  const held: [K, IntakeResult][] = [];
  const lanes = new Map<string, (() => Promise<void>)[]>();
  const seen = new Set<number>();
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
    const parsed = await parseMessage(item.raw, app.config.intake.limits).catch(() => undefined);
    const lane = parsed ? laneOf(parsed) : `journal:${row.id}`;
    const list = lanes.get(lane) ?? [];
    list.push(async () => {
      if (shouldStop()) return;
      const r = await processMessage(app, row.id, { cache, row, raw: item.raw, outcomes, ...(parsed ? { parsed } : {}) });
      if (r && outcomes.holds(r.id)) held.push([item.key, r]);
      else if (r) await done(item.key, r);
    });
    lanes.set(lane, list);
  }
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
