import { readFile } from 'node:fs/promises';
import path from 'node:path';
import PizZip from 'pizzip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_JOBS_FOR_THREADS } from '../../src/documents/render-pool.js';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { docxCheckboxes, docxText, pdfText } from '../helpers/documents.js';

// The documents of a batch of packages are filled on render threads (templates.renderThreads). What
// a recipient gets must not depend on it: the same text, the same ticks, the same errors.

let db: TestDatabase;
let deal: string;
const env = (threads: number, home: string) => testEnv(db.url, home, { DOSSIER_TEMPLATES__RENDER_THREADS: String(threads) });

beforeAll(async () => {
  db = await createTestDatabase();
  deal = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], testEnv(db.url, await tempDir()))).json()[0].ref;
});
afterAll(() => db.drop());

/** Every document of every package: name → what a reader sees (DOCX text and ticks, PDF text). */
async function build(threads: number): Promise<Map<string, string>> {
  const out = await tempDir();
  const r = await dossier(['pack', 'build', deal, '--all', '-o', out, '--json'], env(threads, await tempDir()));
  expect(r.stderr).toBe('');
  const seen = new Map<string, string>();
  for (const pkg of r.json() as { recipient: string; parts: { file: string }[] }[]) {
    const zip = new PizZip(await readFile(pkg.parts[0]!.file));
    for (const name of Object.keys(zip.files).filter((n) => /\.(docx|pdf)$/i.test(n))) {
      const bytes = zip.file(name)!.asNodeBuffer();
      const seenText = name.toLowerCase().endsWith('.docx') ? `${docxText(bytes)}\n${JSON.stringify([...docxCheckboxes(bytes)])}` : await pdfText(bytes);
      seen.set(`${pkg.recipient}/${name}`, seenText);
    }
  }
  return seen;
}

describe('render threads', () => {
  it('fill the same documents as one thread: text, ticks and PDF text alike', async () => {
    const one = await build(1);
    const two = await build(2);
    expect(one.size).toBe(6); // three banks, two documents each…
    expect(one.size).toBeGreaterThanOrEqual(MIN_JOBS_FOR_THREADS); // …enough for the threads to be used
    expect([...two.keys()].sort()).toEqual([...one.keys()].sort());
    for (const [name, text] of one) expect(two.get(name), name).toBe(text);
    expect([...one.values()].join('\n')).toContain('Смирнов');
  });

  it('report a value missing in a thread as in one: every missing tag named', async () => {
    const home = await tempDir();
    await dossier(['field', 'unset', deal, 'borrower_birth_date'], env(2, home));
    const one = await dossier(['pack', 'build', deal, '--all', '-o', await tempDir()], env(1, home));
    const two = await dossier(['pack', 'build', deal, '--all', '-o', await tempDir()], env(2, home));
    expect(one.code).toBe(1);
    expect(two.code).toBe(1);
    // --all builds every recipient it can and names each failure.
    expect(two.stderr).toMatch(/^error PACKAGES_INCOMPLETE: /);
    expect(two.stderr).toMatch(/RENDER_MISSING_VALUES .+ needs values the record does not have: .*borrower_birth_date/);
    expect(two.stderr).toBe(one.stderr);
  });
});
