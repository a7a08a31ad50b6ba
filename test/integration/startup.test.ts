import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

// Start-up as a person meets it, through the real bin/dossier: --version, --help that loads nothing
// but commander, commands that load only what they use (module loads recorded by a resolve hook,
// not timed: the timing is in `npm run bench`), and the import's progress bar on a terminal.

const run = promisify(execFile);
const bin = path.join(packageRoot, 'bin', 'dossier');
const HEAVY = ['exceljs', 'pdf-lib', '@cantoo/pdf-lib', 'imapflow', 'pg-boss', 'docxtemplater', 'mailauth', 'nodemailer', 'mailparser', 'archiver', 'handlebars', 'pizzip'];

let db: TestDatabase;
let work: string;
let hook: string;

beforeAll(async () => {
  db = await createTestDatabase();
  work = await tempDir();
  hook = path.join(work, 'record-loads.mjs');
  // A module resolve hook (module.register, Node >= 20.6) that appends every resolved URL to $LOADS.
  await writeFile(
    hook,
    `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) { const r = await next(spec, ctx); if (process.env.LOADS) appendFileSync(process.env.LOADS, r.url + '\\\\n'); return r; }
\`));
`,
  );
});
afterAll(() => db.drop());

/** The npm packages a CLI run loaded, by name. */
async function packagesLoaded(args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; packages: string[] }> {
  const loads = path.join(work, `loads-${args.join('-').replace(/\W+/g, '_')}.txt`);
  await writeFile(loads, '');
  const r = await run(process.execPath, ['--import', hook, bin, ...args], { env: { ...env, LOADS: loads } });
  const urls = (await readFile(loads, 'utf8')).split('\n').filter(Boolean);
  const packages = [...new Set(urls.map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1]).filter((p): p is string => Boolean(p)))].sort();
  return { stdout: r.stdout, packages };
}

describe('CLI start-up', () => {
  it('--version prints the version of Dossier and of Node', async () => {
    const { version } = JSON.parse(await readFile(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
    const r = await run(process.execPath, [bin, '--version'], { env: { PATH: process.env.PATH } });
    expect(r.stdout.trim()).toBe(`dossier ${version} (node ${process.version})`);
    expect((await run(process.execPath, [bin, '-V'], { env: { PATH: process.env.PATH } })).stdout.trim()).toBe(`dossier ${version} (node ${process.version})`);
  });

  it('--help loads commander and nothing else; a database command loads pg but none of the heavy libraries', async () => {
    const help = await packagesLoaded(['--help'], { PATH: process.env.PATH });
    expect(help.stdout).toContain('record');
    expect(help.stdout).toContain('--version');
    expect(help.packages).toEqual(['commander']);

    const list = await packagesLoaded(['record', 'list'], testEnv(db.url, await tempDir()));
    expect(list.stdout.trim()).toMatch(/^No records in /);
    expect(list.packages).toContain('pg');
    expect(list.packages.filter((p) => HEAVY.includes(p))).toEqual([]);

    // The XLSX export is what loads exceljs.
    const out = path.join(work, 'deals.xlsx');
    const exported = await packagesLoaded(['export', 'deal', '--format', 'xlsx', '-o', out], testEnv(db.url, await tempDir()));
    expect(exported.packages).toContain('exceljs');
    expect(exported.packages.filter((p) => ['imapflow', 'pg-boss', 'pdf-lib', '@cantoo/pdf-lib', 'docxtemplater', 'mailauth'].includes(p))).toEqual([]);
  });

  it('shows a progress bar for an import on a terminal, and none in a pipe', async () => {
    const file = path.join(work, 'many.csv');
    const rows = Array.from({ length: 300 }, (_, i) => `Сделка ${i + 1};Иванов;${100000 + i}`);
    await writeFile(file, ['Название;Фамилия;Сумма кредита', ...rows].join('\n') + '\n');
    const env = testEnv(db.url, await tempDir());
    // `script` gives the command a pseudo-terminal, as a person's terminal would.
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} record import deal ${JSON.stringify(file)}`;
    const tty = await run('script', ['-qec', cmd, '/dev/null'], { env }).catch((err: { stdout?: string }) => {
      throw new Error(`script failed: ${err.stdout ?? ''}`);
    });
    expect(tty.stdout).toMatch(/checking rows \[[█░]+\] 100% \| 300\/300 rows/);
    expect(tty.stdout).toMatch(/writing\s+\[[█░]+\] 100% \| 300\/300 rows/);
    const piped = await run(process.execPath, [bin, 'record', 'import', 'deal', file], { env });
    expect(piped.stderr).toBe('');
    expect(piped.stdout.split('\n').filter(Boolean)).toHaveLength(300);
  });
});
