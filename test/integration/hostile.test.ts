import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app.js';
import { journal } from '../../src/inbound/journal.js';
import { processMessage } from '../../src/inbound/process.js';
import { replyToken } from '../../src/outbound/tokens.js';
import { fixturesDir } from '../../src/paths.js';
import { hostileCorpus, type HostileContext, type HostileMessage } from '../helpers/hostile.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { LOADED } from '../helpers/wait.js';
import { fixtureWorld, type FixtureWorld } from '../helpers/fixture-world.js';

// The hostile-mail corpus (test/helpers/hostile.ts: a few thousand messages mutated from fixtures/mail,
// deterministic from SEED) through the real intake — journal() then processMessage() in this process,
// on a real PostgreSQL — and a sample through `dossier mail ingest`. What must hold for every message:
// no crash, no hang (the test's timeout), bounded memory, an outcome with a
// reason; forged tokens and forged staff never applied; no attachment stored under a path or with
// control characters; zips never unpacked; no decision changed except by authenticated staff mail.
//
// HOSTILE_SEED and HOSTILE_COUNT override the corpus (to replay a failure, or to run a bigger one).

const SEED = Number(process.env.HOSTILE_SEED ?? 20261201);
const COUNT = Number(process.env.HOSTILE_COUNT ?? 2000);
// No wall-clock bound (the suite must pass on a busy machine): a hang is caught by the test's
// timeout, sized for a loaded 2-core machine (~60–80 s alone); the slowest messages are logged.
const HANG_MS = 1_200_000;
// Peak RSS while the 52 MB message is in hand, over the start: measured +242 MB on Node 20 and +347 MB
// on Node 22 (its V8 grows the heap further before collecting). A leak shows in the heap after GC,
// checked below; this bound only catches a message held several times over.
const RSS_GROWTH_LIMIT = 450 * 1024 * 1024;
const HEAP_LEAK_LIMIT = 64 * 1024 * 1024;
const SECRET = 'hostile-token-secret-0123456789abcdef';
const MB = 1024 * 1024;

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let app: App;
const refs: Record<string, string> = {};
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

// Forced GC without --expose-gc on the command line (vitest's config is shared with other files):
// the flag set at run time, and the gc function taken from a fresh context that sees it.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('typeof gc === "function" ? gc : null') as (() => void) | null;

/** The fixtures with their placeholders filled. */
async function filledFixtures(world: FixtureWorld): Promise<{ name: string; raw: Buffer }[]> {
  const dir = path.join(fixturesDir, 'mail');
  const out: { name: string; raw: Buffer }[] = [];
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort()) {
    out.push({ name, raw: Buffer.from(await world.fill(await readFile(path.join(dir, name), 'latin1')), 'latin1') });
  }
  return out;
}

let ctx: HostileContext;

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir(), {
    DOSSIER_MAIL__TOKEN_SECRET: SECRET,
    // Thousands of messages from a handful of senders within the hour: without this the rate limit
    // would quarantine nearly all of them before routing, and routing is what is under test.
    DOSSIER_INTAKE__PER_SENDER_PER_HOUR: '100000000',
  });
  const world = await fixtureWorld(db, env, SECRET);
  refs.deal = world.deal;
  refs.claim = world.claim;
  app = await openApp({ env });
  ctx = {
    fixtures: await filledFixtures(world),
    refs: { deal: refs.deal!, claim: refs.claim! },
    token: (ref, party) => replyToken(SECRET, ref, party),
    outboxMessageIds: (await sql<{ message_id: string }>('SELECT message_id FROM outbox')).map((r) => r.message_id),
    staff: app.config.mail.staff[0]!,
    authServId: app.config.intake.staffAuth.trustedAuthServId!,
  };
}, 180_000 * LOADED);
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

interface Seen { seq: number; family: string; id: number | null; outcome: string | null; reason: string; ms: number; forged: HostileMessage['forged']; mayDecide: boolean; zipInner: string[]; size: number }

describe('the hostile-mail corpus through the intake', () => {
  const seen: Seen[] = [];
  const crashes: { seq: number; family: string; error: string }[] = [];
  const memory = { startRss: 0, startHeap: 0, peakRss: 0, peakAt: '', endHeap: 0, samples: [] as { seq: number; rss: number; heap: number }[] };
  let totalMs = 0;

  it(`takes ${COUNT} hostile messages (seed ${SEED}) without a crash, a hang or unbounded memory`, async () => {
    gc?.();
    memory.startRss = process.memoryUsage().rss;
    memory.startHeap = process.memoryUsage().heapUsed;
    memory.peakRss = memory.startRss;
    const t0 = performance.now();
    for (const h of hostileCorpus(SEED, COUNT, ctx)) {
      const t = performance.now();
      const s: Seen = { seq: h.seq, family: h.family, id: null, outcome: null, reason: '', ms: 0, forged: h.forged, mayDecide: h.mayDecide, zipInner: h.zipInner, size: h.raw.length };
      try {
        const { row, duplicate } = await journal(app, h.raw, { mailbox: 'hostile', sourceRef: `${SEED}-${h.seq} ${h.family}` });
        s.id = row.id;
        const r = duplicate && row.outcome ? { outcome: row.outcome, reason: row.reason ?? '' } : await processMessage(app, row.id);
        s.outcome = r?.outcome ?? null;
        s.reason = r?.reason ?? '';
      } catch (err) {
        crashes.push({ seq: h.seq, family: h.family, error: (err as Error).stack?.split('\n').slice(0, 4).join(' | ') ?? String(err) });
      }
      s.ms = performance.now() - t;
      seen.push(s);
      // RSS right after the big ones (the peak), heap after a forced GC every 100 (the trend).
      const rss = process.memoryUsage().rss;
      if (rss > memory.peakRss) [memory.peakRss, memory.peakAt] = [rss, `${h.seq} ${h.family}`];
      if (h.seq % 100 === 99) {
        gc?.();
        const m = process.memoryUsage();
        memory.samples.push({ seq: h.seq, rss: m.rss, heap: m.heapUsed });
      }
    }
    totalMs = performance.now() - t0;
    gc?.();
    memory.endHeap = process.memoryUsage().heapUsed;

    const slowest = [...seen].sort((a, b) => b.ms - a.ms).slice(0, 5).map((x) => `${x.seq} ${x.family} ${(x.size / MB).toFixed(1)} MB ${Math.round(x.ms)} ms`);
    const outcomes = Object.entries(seen.reduce<Record<string, number>>((acc, x) => ((acc[x.outcome ?? 'none'] = (acc[x.outcome ?? 'none'] ?? 0) + 1), acc), {}));
    console.log(
      `hostile corpus: ${seen.length} messages (${(seen.reduce((n, x) => n + x.size, 0) / MB).toFixed(0)} MB) in ${(totalMs / 1000).toFixed(1)} s; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}; ` +
        `RSS ${(memory.startRss / MB).toFixed(0)} → peak ${(memory.peakRss / MB).toFixed(0)} MB (at ${memory.peakAt}); heap after GC ${(memory.startHeap / MB).toFixed(0)} → ${(memory.endHeap / MB).toFixed(0)} MB${gc ? '' : ' (no forced GC)'}; slowest: ${slowest.join('; ')}`,
    );

    expect(crashes).toEqual([]);
    expect(seen.length).toBe(COUNT);
    expect(memory.peakRss - memory.startRss).toBeLessThan(RSS_GROWTH_LIMIT);
    // Nothing kept per message: the heap after the last GC is where it started, give or take.
    if (gc) expect(memory.endHeap - memory.startHeap).toBeLessThan(HEAP_LEAK_LIMIT);
  }, HANG_MS);

  it('ends every message with an outcome and a non-empty reason — none of them "failed"', async () => {
    const rows = await sql<{ id: number; source_ref: string; outcome: string | null; reason: string | null }>("SELECT id, source_ref, outcome, reason FROM inbound_messages WHERE mailbox = 'hostile' AND (outcome IS NULL OR reason IS NULL OR btrim(reason) = '' OR outcome = 'failed')");
    // 'failed' means processing threw and rolled back: a hostile message found a bug.
    expect(rows.map((r) => `${r.source_ref}: ${r.outcome} ${r.reason?.slice(0, 300)}`)).toEqual([]);
    // And those that never made it into the journal (reported as crashes above).
    expect(seen.filter((x) => !x.outcome || !x.reason.trim()).map((x) => `${x.seq} ${x.family}`)).toEqual([]);
    const [n] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM inbound_messages WHERE mailbox = 'hostile'");
    expect(n!.n).toBeGreaterThan(COUNT * 0.95); // a few mutations may come out byte-identical: journaled once
  });

  it('never applies a forged reply token or forged staff mail', () => {
    const forged = seen.filter((x) => x.forged);
    expect(forged.filter((x) => x.forged === 'token').length).toBeGreaterThan(COUNT * 0.03);
    expect(forged.filter((x) => x.forged === 'staff').length).toBeGreaterThan(COUNT * 0.03);
    expect(forged.filter((x) => (x.outcome === 'applied' || x.outcome === 'partial')).map((x) => `${x.seq} ${x.family} (${x.forged}): ${x.reason.slice(0, 200)}`)).toEqual([]);
  });

  it('changes no decision (or status) except by staff mail our MTA authenticated', async () => {
    const allowed = new Set(seen.filter((x) => x.mayDecide && x.id !== null).map((x) => `message:${x.id}`));
    const ids = seen.filter((x) => x.id !== null).map((x) => `message:${x.id}`);
    const events = await sql<{ actor: string; kind: string; field: string | null }>(
      "SELECT DISTINCT actor, kind, field FROM events WHERE actor = ANY($1) AND (field LIKE 'decision%' OR kind = 'status_changed')",
      [ids],
    );
    const bySeq = new Map(seen.map((x) => [`message:${x.id}`, x]));
    expect(events.filter((e) => !allowed.has(e.actor)).map((e) => `${bySeq.get(e.actor)?.seq} ${bySeq.get(e.actor)?.family}: ${e.kind} ${e.field ?? ''}`)).toEqual([]);
    const values = await sql<{ set_by: string; field_id: string }>("SELECT set_by, field_id FROM field_values WHERE field_id LIKE 'decision%' AND set_by LIKE 'message:%'");
    expect(values.filter((v) => ids.includes(v.set_by) && !allowed.has(v.set_by))).toEqual([]);
  });

  it('stores no attachment under a path, with control or invisible characters, or with an over-long name', async () => {
    const ids = seen.filter((x) => x.id !== null).map((x) => `message:${x.id}`);
    const rows = await sql<{ file_name: string; created_by: string }>("SELECT file_name, created_by FROM attachments WHERE source = 'message' AND created_by = ANY($1)", [ids]);
    expect(rows.length).toBeGreaterThan(50); // the lawyer's replies with valid tokens did store files
    const bad = rows.filter((r) => /[/\\]|^\.|^\s|[\p{Cc}\p{Cf}]/u.test(r.file_name) || Buffer.byteLength(r.file_name) > 255 || r.file_name.length === 0);
    expect(bad.map((r) => JSON.stringify(r.file_name.slice(0, 120)))).toEqual([]);
  });

  it('never unpacks a zip: no file from inside one, nothing bigger than the zips themselves', async () => {
    const zipMessages = seen.filter((x) => x.zipInner.length > 0 && x.id !== null);
    expect(zipMessages.length).toBeGreaterThan(10);
    const inner = new Set(zipMessages.flatMap((x) => x.zipInner));
    const rows = await sql<{ file_name: string; size: string; created_by: string }>('SELECT file_name, size, created_by FROM attachments WHERE created_by = ANY($1)', [zipMessages.map((x) => `message:${x.id}`)]);
    expect(rows.length).toBeGreaterThan(0); // the lawyer's zips were kept, as files
    expect(rows.filter((r) => inner.has(r.file_name) || r.file_name.includes('hostile-inner-'))).toEqual([]);
    // A zip here is at most a few hundred KB; a stored file of megabytes would be an inflated entry.
    expect(rows.filter((r) => Number(r.size) > 2 * MB)).toEqual([]);
  });

  it('is the same corpus from the same seed, byte for byte', () => {
    const digest = (seed: number) => [...hostileCorpus(seed, 60, ctx)].map((h) => createHash('sha256').update(h.raw).digest('hex'));
    expect(digest(SEED)).toEqual(digest(SEED));
    expect(digest(SEED)).not.toEqual(digest(SEED + 7));
  });

  it('takes a sample through `dossier mail ingest` (the CLI, in process) with the same guarantees', async () => {
    const dir = await tempDir('dossier-hostile-');
    const sample = [...hostileCorpus(SEED + 1, 40, ctx)].filter((h) => h.raw.length < 4 * MB);
    const files: string[] = [];
    for (const h of sample) {
      const file = path.join(dir, `${String(h.seq).padStart(3, '0')}.eml`);
      await writeFile(file, h.raw);
      files.push(file);
    }
    const r = await dossier(['mail', 'ingest', ...files, '--json'], env);
    expect(r.stderr).toBe('');
    const results = r.json() as { outcome: string; reason: string }[];
    expect(results).toHaveLength(sample.length);
    results.forEach((res, i) => {
      expect(res.reason.trim(), `${sample[i]!.family}`).not.toBe('');
      expect(res.outcome, `${sample[i]!.family}: ${res.reason}`).not.toBe('failed');
      if (sample[i]!.forged) expect(['applied', 'partial'], `${sample[i]!.family}: ${res.reason}`).not.toContain(res.outcome);
    });
  }, 120_000 * LOADED);
});
