import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

// An interrupted `npm test` (Ctrl-C, a CI timeout) leaves no PostgreSQL server and no files behind:
// a vitest run with the suite's global setup is started, interrupted once its server is up, and
// then nothing of that server may be left — no process, no socket directory, no data directory.

const root = path.resolve(import.meta.dirname, '../..');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  it(`a run stopped by ${signal} stops its PostgreSQL server and removes its files`, async () => {
    if (process.env.TEST_DATABASE_URL) return; // that run uses a server of its own: nothing to start or stop
    const marker = path.join(await tempDir(), 'server.json');
    const child = spawn(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/interrupt/vitest.config.ts'], {
      cwd: root,
      env: { ...process.env, INTERRUPT_MARKER: marker },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const server = await until('the run to start its server', () => (existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as { host: string }) : undefined));
    const socketDir = server.host;
    expect(existsSync(socketDir)).toBe(true);
    const running = () => spawnSync('pgrep', ['-f', path.dirname(socketDir)], { encoding: 'utf8' }).stdout.trim();
    expect(running()).not.toBe('');

    child.kill(signal);
    await exited;
    expect(running()).toBe('');
    expect(existsSync(socketDir)).toBe(false);
    expect(existsSync(path.dirname(socketDir))).toBe(false);
  }, 240_000);
}
