import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { chown } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { tempDir } from '../helpers/cli.js';

// The real bin/dossier in separate processes, with no DATABASE_URL: the embedded PostgreSQL default.
// Run as root (as CI does) this covers the `nobody` + setpriv path; run as a normal user, the plain one.

const bin = path.join(packageRoot, 'bin', 'dossier');
const year = new Date().getFullYear();
const isRoot = process.getuid?.() === 0;
const ids = (user: string) => ({
  uid: Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim()),
  gid: Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim()),
});

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function start(args: string[], home: string, opts: { stdin?: 'pipe' | 'ignore'; asNobody?: boolean; idleSeconds?: number } = {}) {
  // Idle 0 unless a test asks: these tests check that the last process out stops the server.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, DOSSIER_HOME: home, DOSSIER_USER: 'embedded-test', DOSSIER_DATABASE__EMBEDDED_IDLE_SECONDS: String(opts.idleSeconds ?? 0) };
  const [cmd, ...rest] = opts.asNobody ? [...asNobody(), process.execPath, binForNobody(), ...args] : [process.execPath, bin, ...args];
  const child = spawn(cmd!, rest, { env, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: stdout.trim(), stderr: stderr.trim() })));
  return { child, done };
}

const run = (args: string[], home: string, opts: { asNobody?: boolean; idleSeconds?: number } = {}) => start(args, home, opts).done;

/** The data directory of home's cluster (it may have moved to /var/lib/dossier when nobody cannot reach home). */
const asNobody = () => ['setpriv', `--reuid=${ids('nobody').uid}`, `--regid=${ids('nobody').gid}`, '--clear-groups', '--'];

/**
 * The CLI as nobody can run it: this checkout when nobody can read it, otherwise a copy in a
 * world-readable temporary directory (a checkout under root's 0700 home directory is not readable).
 */
let nobodyBin: string | null = null;
function binForNobody(): string {
  if (nobodyBin) return nobodyBin;
  try {
    execFileSync(asNobody()[0]!, [...asNobody().slice(1), 'test', '-r', path.join(packageRoot, 'dist', 'cli', 'main.js')]);
    nobodyBin = bin;
  } catch {
    const copy = mkdtempSync(path.join(os.tmpdir(), 'dossier-pkg-'));
    for (const part of ['package.json', 'dossier.config.yaml', 'bin', 'dist', 'src', 'fixtures', 'field-schemas', 'templates', 'node_modules']) {
      if (existsSync(path.join(packageRoot, part))) cpSync(path.join(packageRoot, part), path.join(copy, part), { recursive: true, verbatimSymlinks: true });
    }
    execFileSync('chmod', ['-R', 'a+rX', copy]);
    nobodyBin = path.join(copy, 'bin', 'dossier');
  }
  return nobodyBin;
}

function dataDir(home: string): string {
  const note = path.join(home, 'pg-location.txt');
  // The note may be caught half written (the test polls while the command starts): no path yet then.
  const kept = existsSync(note) ? /kept in (\S+)/.exec(readFileSync(note, 'utf8'))?.[1] : undefined;
  return kept ? path.join(kept, 'data') : path.join(home, 'pg', 'data');
}

/** Live (not zombie) postgres processes serving this data directory. */
function serversOn(data: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline.some((a) => a.endsWith('postgres')) && cmdline.includes(data)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

function expectStopped(home: string) {
  const data = dataDir(home);
  expect(existsSync(path.join(data, 'PG_VERSION'))).toBe(true);
  expect(existsSync(path.join(data, 'postmaster.pid'))).toBe(false);
  expect(serversOn(data)).toEqual([]);
}

describe('embedded PostgreSQL default', () => {
  it('creates a record, stops the server, and a new process still sees the record', async () => {
    const home = await tempDir('dossier-embedded-');
    const created = await run(['record', 'create', 'deal', '--title', 'Первая сделка'], home);
    expect(created.stderr).toContain('initialising the embedded PostgreSQL cluster');
    expect(created).toMatchObject({ code: 0, stdout: `DL-${year}-00001` });
    expectStopped(home);

    const listed = await run(['record', 'list', '--json'], home);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toBe(''); // the second start is silent
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ ref: `DL-${year}-00001`, title: 'Первая сделка' })]);
    expectStopped(home);
  });

  it('lets several processes share one server; the last one out stops it', async () => {
    const home = await tempDir('dossier-embedded-');
    expect((await run(['db', 'migrate'], home)).code).toBe(0);
    const runs = await Promise.all(Array.from({ length: 5 }, () => run(['record', 'create', 'claim'], home)));
    expect(runs.map((r) => r.stderr)).toEqual(['', '', '', '', '']);
    expect(runs.map((r) => r.stdout).sort()).toEqual([1, 2, 3, 4, 5].map((n) => `CL-${year}-0000${n}`));
    expectStopped(home);
  });

  it('stops the server when the command is interrupted by SIGTERM', async () => {
    const home = await tempDir('dossier-embedded-');
    // `party import /dev/stdin` waits for standard input with the database open: a command in flight.
    const { child, done } = start(['party', 'import', '/dev/stdin'], home, { stdin: 'pipe' });
    for (let i = 0; i < 200 && !existsSync(path.join(dataDir(home), 'postmaster.pid')); i++) await sleep(50);
    await sleep(300); // connected and waiting on stdin
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('SIGTERM: stopping');
    expectStopped(home);
  });

  it('runs the server as an unprivileged user (nobody when Dossier runs as root)', async () => {
    const home = await tempDir('dossier-embedded-');
    expect((await run(['record', 'create', 'deal'], home)).code).toBe(0);
    const expected = isRoot ? ids('nobody').uid : process.getuid!();
    expect(statSync(dataDir(home)).uid).toBe(expected);
  });

  it('works for a normal user with a home of their own (as root: run as nobody)', async () => {
    const home = await tempDir('dossier-embedded-user-');
    if (isRoot) await chown(home, ids('nobody').uid, ids('nobody').gid);
    const created = await run(['record', 'create', 'deal'], home, { asNobody: isRoot });
    expect(created).toMatchObject({ code: 0, stdout: `DL-${year}-00001`, stderr: expect.not.stringContaining('error') });
    expect((await run(['record', 'list', '--json'], home, { asNobody: isRoot })).stdout).toContain(`DL-${year}-00001`);
    expect(statSync(dataDir(home)).uid).toBe(isRoot ? ids('nobody').uid : process.getuid!());
    expectStopped(home);
  });

  it('stays up for database.embeddedIdleSeconds after the last command, so the next one finds it running; db stop stops it', async () => {
    const home = await tempDir('dossier-embedded-warm-');
    expect((await run(['record', 'create', 'deal'], home, { idleSeconds: 600 })).code).toBe(0);
    const data = dataDir(home);
    const servers = serversOn(data);
    expect(servers).not.toEqual([]);
    expect(existsSync(path.join(data, 'postmaster.pid'))).toBe(true);
    // The next command uses the same server process (it started nothing) and leaves it up again.
    const listed = await run(['record', 'list', '--json'], home, { idleSeconds: 600 });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
    expect(serversOn(data)[0]).toBe(servers[0]);
    const stopped = await run(['db', 'stop'], home, { idleSeconds: 600 });
    expect(stopped).toMatchObject({ code: 0, stdout: expect.stringContaining('Stopped the embedded PostgreSQL server') });
    expectStopped(home);
    expect((await run(['db', 'stop'], home)).stdout).toContain('was not running');
  });

  it('stops by itself once the idle time has passed with no command', async () => {
    const home = await tempDir('dossier-embedded-idle-');
    expect((await run(['record', 'create', 'deal'], home, { idleSeconds: 1 })).code).toBe(0);
    const data = dataDir(home);
    // Not a bound on speed: poll for the stopper's work, with a deadline only so that a broken
    // stopper fails the test instead of hanging it.
    // The pid file goes a moment before the postmaster exits: wait for both.
    for (let i = 0; i < 600 && (existsSync(path.join(data, 'postmaster.pid')) || serversOn(data).length > 0); i++) await sleep(100);
    expectStopped(home);
  });
});
