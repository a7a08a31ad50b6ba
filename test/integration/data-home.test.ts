import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { tempDir } from '../helpers/cli.js';

// The data home does not depend on the folder a command is run from (issue 16): the real bin/dossier
// in separate processes, on the embedded PostgreSQL default (no DATABASE_URL, no DOSSIER_HOME).

const bin = path.join(packageRoot, 'bin', 'dossier');

function dossier(args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, DOSSIER_USER: 'home-test', ...extra };
  const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() })));
}

describe('the data home', () => {
  // Each command here starts (and, being the last, stops) an embedded server; two clusters are made.
  it('is the same from every folder under the configuration file, and says why; elsewhere it is the XDG folder', { timeout: 600_000 }, async () => {
    const project = await tempDir('dossier-project-');
    await writeFile(path.join(project, 'dossier.config.yaml'), 'mail:\n  domain: firm.example\n');
    const deep = path.join(project, 'clients', 'smirnov');
    await mkdir(deep, { recursive: true });
    const xdg = await tempDir('dossier-xdg-');
    const elsewhere = await tempDir('dossier-elsewhere-');

    const where = await dossier(['where', '--json'], deep, { XDG_DATA_HOME: xdg });
    expect(where.code).toBe(0);
    expect(JSON.parse(where.stdout)).toMatchObject({
      home: path.join(project, '.dossier'),
      configFile: path.join(project, 'dossier.config.yaml'),
      configReason: `found from ${deep} upwards`,
      homeReason: `beside the configuration file ${path.join(project, 'dossier.config.yaml')}`,
    });

    const created = await dossier(['record', 'create', 'deal', '--title', 'Автокредит — Смирнов'], project, { XDG_DATA_HOME: xdg });
    expect(created.code).toBe(0);
    const ref = created.stdout;
    const listed = await dossier(['record', 'list', '--json'], deep, { XDG_DATA_HOME: xdg });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((r: { ref: string }) => r.ref)).toEqual([ref]);

    // Outside the project: no configuration file above, so the XDG data folder — and it says so.
    const away = await dossier(['record', 'list'], elsewhere, { XDG_DATA_HOME: xdg });
    expect(away.code).toBe(0);
    expect(away.stdout).toContain(`No records in ${path.join(xdg, 'dossier')}. (\`dossier where\` says why this data home.)`);
    const awayWhere = await dossier(['where'], elsewhere, { XDG_DATA_HOME: xdg });
    expect(awayWhere.stdout).toContain(`home      ${path.join(xdg, 'dossier')}`);
    expect(awayWhere.stdout).toContain('no DOSSIER_HOME and no configuration file: the XDG data folder ($XDG_DATA_HOME/dossier)');

    // DOSSIER_CONFIG pins the project's home from anywhere.
    const pinned = await dossier(['record', 'list', '--json'], elsewhere, { XDG_DATA_HOME: xdg, DOSSIER_CONFIG: path.join(project, 'dossier.config.yaml') });
    expect(JSON.parse(pinned.stdout).map((r: { ref: string }) => r.ref)).toEqual([ref]);
  });
});
