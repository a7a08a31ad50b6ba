// Shared by the benchmarks: a private Dossier home with the sample deal, timing helpers, and the
// verdict/RESULT lines that bench/run.mjs collects into docs/performance.md.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const dist = (p) => path.join(root, 'dist', p);

// Cleanups to run when bench/run.mjs stops a benchmark over its time limit (SIGTERM), since a
// signal ends the process without running its finally blocks: newest first, each once.
const cleanups = [];
let signalled = false;
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => {
    if (signalled) return;
    signalled = true;
    for (const fn of cleanups.reverse()) await Promise.race([Promise.resolve().then(fn).catch(() => {}), new Promise((r) => setTimeout(r, 15_000))]);
    process.exit(130);
  });
}
/** Registers a cleanup for a signal and returns it wrapped to run once (call it from finally too). */
export function onStop(fn) {
  let done = false;
  const once = async () => {
    if (done) return;
    done = true;
    await fn();
  };
  cleanups.push(once);
  return once;
}

/**
 * A temp dir the embedded server's user can enter: as root the server runs as `nobody`, and a 0700
 * dir would send its cluster to /var/lib/dossier/clusters, outside what removeTemp() deletes.
 */
export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o755);
  onStop(() => removeTemp(dir));
  return dir;
}

/**
 * Staff mail vouched for by our own MTA: the fixtures carry mx.dossier.example's
 * Authentication-Results above its Received line, which mode `mta` trusts (mode `dkim`, the default,
 * verifies signatures, and the fixtures are not signed, so their decisions would be quarantined).
 * For the benchmarks whose subject is a decision being applied.
 */
export const STAFF_AUTH_BY_OUR_MTA = {
  DOSSIER_INTAKE__STAFF_AUTH__MODE: 'mta',
  DOSSIER_INTAKE__STAFF_AUTH__TRUSTED_AUTH_SERV_ID: 'mx.dossier.example',
  DOSSIER_INTAKE__STAFF_AUTH__MTA_HOSTNAME: 'mx.dossier.example',
};

/** Removes a temp dir, and the cluster a Dossier home in it kept elsewhere, if it had to. */
export function removeTemp(dir) {
  const note = path.join(dir, 'home', 'pg-location.txt');
  if (existsSync(note)) {
    const m = /kept in (\S+)/.exec(readFileSync(note, 'utf8'));
    if (m && m[1].startsWith('/var/lib/dossier/clusters/')) rmSync(m[1], { recursive: true, force: true });
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A Dossier home of its own under `dir` (embedded PostgreSQL, its own blob store) with a copy of the
 * templates and the sample deal imported. The embedded server stops when the last Dossier process
 * using the home exits, so nothing outlives the benchmark once its temp dir is removed.
 */
export function dossierHome(dir) {
  const home = path.join(dir, 'home');
  const templates = path.join(dir, 'templates');
  cpSync(path.join(root, 'templates'), templates, { recursive: true });
  // Idle 0: the embedded server stops with the benchmark's last command (not minutes later, its home gone).
  const env = { ...process.env, DOSSIER_HOME: home, DOSSIER_TEMPLATES__DIR: templates, DOSSIER_USER: 'bench', DOSSIER_DATABASE__EMBEDDED_IDLE_SECONDS: '0' };
  // A DATABASE_URL from the shell would point the benchmark at someone's real database.
  delete env.DATABASE_URL;
  // Run from the temp dir, so that no dossier.config.yaml of the working copy (a developer's home,
  // database or mailboxes) applies: the defaults and the DOSSIER_* variables above only.
  const cli = (...a) => execFileSync(process.execPath, [path.join(root, 'bin', 'dossier'), ...a], { env, cwd: dir, encoding: 'utf8' }).trim();
  return { dir, home, templates, env, cli };
}

/** Opens the app in this process on a home made by dossierHome (same isolation as its cli). */
export async function openDossier(h) {
  Object.assign(process.env, h.env);
  const { openApp } = await import(dist('app.js'));
  return openApp({ env: process.env, cwd: h.dir });
}

export function importDeal(h) {
  return JSON.parse(h.cli('record', 'import', 'deal', path.join(root, 'fixtures/records/deal.json'), '--json'))[0].ref;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Nearest-rank percentile: with 40 samples p95 is the 38th, an observed latency, not an interpolation. */
export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

/** Warm-up runs (JIT, caches, lazy requires), then the median of `n` timed runs, in ms. */
export async function timeMedian(fn, { warmup = 5, n = 30 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { median: median(times), min: Math.min(...times), max: Math.max(...times), n };
}

/**
 * Like timeMedian for several contenders at once, taking turns run by run (A, B, C, A, B, C…): on a
 * shared machine whose load changes during the run, each contender then meets the same conditions.
 */
export async function timeInterleaved(fns, { warmup = 5, n = 30 } = {}) {
  const names = Object.keys(fns);
  for (let i = 0; i < warmup; i++) for (const k of names) await fns[k]();
  const times = Object.fromEntries(names.map((k) => [k, []]));
  for (let i = 0; i < n; i++) {
    for (const k of names) {
      const t0 = performance.now();
      await fns[k]();
      times[k].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(names.map((k) => [k, { median: median(times[k]), min: Math.min(...times[k]), max: Math.max(...times[k]), n }]));
}

export const verdict = (pass) => (pass === null || pass === undefined ? '—' : pass ? 'PASS' : 'MISS');

/**
 * The machine-readable summary bench/run.mjs parses: one line, "RESULT " + JSON. Each row is one
 * measured figure: { measure, value, baseline, baselineName, ratio, target, pass, note }; `value` and
 * `baseline` are already formatted with their units.
 */
export function result(bench, title, rows, notes = []) {
  process.stdout.write(`RESULT ${JSON.stringify({ bench, title, rows, notes })}\n`);
}

/** Peak resident set of this process so far, in bytes (the kernel's high-water mark). */
export function peakRss() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall back to what libuv reports (also a high-water mark, in KiB)
  }
  return process.resourceUsage().maxRSS * 1024;
}

export const mb = (bytes) => `${(bytes / 1048576).toFixed(0)} MB`;
export const ms = (x) => (x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`);
export const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
