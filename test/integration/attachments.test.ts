import { createHash } from 'node:crypto';
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let home: string;
let work: string;
let ref: string;
const scan = (f: string) => path.join(fixturesDir, 'scans', f);

async function blobFiles(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory() && e.name !== 'tmp') await walk(path.join(d, e.name));
      else if (e.isFile()) out.push(e.name);
    }
  };
  await walk(path.join(home, 'blobs'));
  return out;
}

beforeAll(async () => {
  db = await createTestDatabase();
  home = await tempDir();
  work = await tempDir();
  env = testEnv(db.url, home, { DOSSIER_ATTACHMENTS__MAX_BYTES: '100000' });
  ref = (await dossier(['record', 'create', 'claim'], env)).stdout;
});
afterAll(() => db.drop());

describe('attachments', () => {
  it('stores files by content, sniffs the type from the bytes, and audits each one', async () => {
    // A photo sent with a misleading name: the stored type comes from the bytes.
    const disguised = path.join(work, 'акт осмотра.pdf');
    await copyFile(scan('scene-photo-1.jpg'), disguised);
    const r = await dossier(['attach', ref, scan('police-report-cl.pdf'), disguised, '--category', 'scene_photos', '--json'], env);
    expect(r.code).toBe(0);
    const attached = r.json().attached as { file_name: string; content_type: string; sha256: string; size: number }[];
    expect(attached.map((a) => [a.file_name, a.content_type])).toEqual([
      ['police-report-cl.pdf', 'application/pdf'],
      ['акт осмотра.pdf', 'image/jpeg'],
    ]);
    const bytes = await readFile(disguised);
    expect(attached[1]!.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(attached[1]!.size).toBe(bytes.length);

    const h = (await dossier(['record', 'history', ref], env)).stdout.replace(/\n {20,}/g, ' '); // the wrapped column joined back
    expect(h).toMatch(/attachment #\d+ акт осмотра\.pdf \(scene_photos,/);
  });

  it('keeps one copy of the same bytes, attached under two categories or to two records', async () => {
    const other = (await dossier(['record', 'create', 'claim'], env)).stdout;
    await dossier(['attach', other, scan('police-report-cl.pdf'), '--category', 'police_report'], env);
    await dossier(['attach', ref, scan('police-report-cl.pdf'), '--category', 'police_report'], env);
    const again = await dossier(['attach', ref, scan('police-report-cl.pdf'), '--category', 'police_report', '--json'], env);
    expect(again.json().attached).toEqual([]);
    expect(again.json().alreadyThere).toHaveLength(1);
    const files = await blobFiles();
    expect(files).toHaveLength(2); // the report and the photo, each once
    const c = new pg.Client(db.config);
    await c.connect();
    const n = await c.query("SELECT count(*)::int AS n FROM attachments WHERE file_name = 'police-report-cl.pdf'");
    await c.end();
    expect(n.rows[0].n).toBe(3);
  });

  it('attaches nothing when one file of several is missing, too big or empty', async () => {
    const big = path.join(work, 'big.bin');
    await writeFile(big, Buffer.alloc(100_001, 1));
    const empty = path.join(work, 'empty.txt');
    await writeFile(empty, '');
    const before = (await dossier(['record', 'show', ref, '--json'], env)).json().attachments.length;

    const missing = await dossier(['attach', ref, scan('passport-smirnov.pdf'), path.join(work, 'nope.pdf'), '--category', 'other'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error FILE_NOT_FOUND');
    expect(missing.stderr).toContain('nope.pdf: no such file');

    const tooBig = await dossier(['attach', ref, scan('passport-smirnov.pdf'), big, '--category', 'other'], env);
    expect(tooBig.stderr).toContain('error ATTACHMENT_TOO_LARGE');
    expect(tooBig.stderr).toContain('big.bin: 100,001 bytes is over the limit of 100,000 bytes');
    expect(tooBig.stderr).toContain('attachments.maxBytes');

    const nothing = await dossier(['attach', ref, empty, '--category', 'other'], env);
    expect(nothing.stderr).toContain('error ATTACHMENT_EMPTY');

    const after = (await dossier(['record', 'show', ref, '--json'], env)).json().attachments.length;
    expect(after).toBe(before);
  });

  it('refuses an unknown category and an unknown record', async () => {
    const cat = await dossier(['attach', ref, scan('passport-smirnov.pdf'), '--category', 'selfies'], env);
    expect(cat.stderr).toContain('error CATEGORY_UNKNOWN: "selfies" is not an attachment category.');
    expect(cat.stderr).toContain('scene_photos, vehicle_photos, police_report');
    const rec = await dossier(['attach', 'CL-2001-00001', scan('passport-smirnov.pdf'), '--category', 'other'], env);
    expect(rec.stderr).toContain('error RECORD_NOT_FOUND');
  });

  it('shows attachments on the record', async () => {
    const show = await dossier(['record', 'show', ref], env);
    expect(show.stdout).toMatch(/scene_photos\s+акт осмотра\.pdf\s+image\/jpeg/);
  });
});
