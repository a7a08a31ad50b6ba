import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';

// `dossier mail ingest` with several files, an empty one and an mbox; `dossier mail list` paged and
// filtered — through the CLI and the real database.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let dir: string;
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

/** A note from an unknown sender: it is journaled and quarantined, nothing else needed for these tests. */
const note = (n: number, lineEnd = '\r\n') =>
  [
    `From: Someone ${n} <someone${n}@example.org>`, 'To: intake@dossier.example', `Subject: Note ${n}`, `Date: Fri, 21 Nov 2026 1${n % 10}:00:00 +0300`,
    `Message-ID: <note-${n}-${Date.now()}@example.org>`, 'Content-Type: text/plain; charset=utf-8', '', `Note number ${n}.`, '',
  ].join(lineEnd);

async function file(name: string, content: string | Buffer): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, content);
  return f;
}

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir());
  dir = await tempDir('dossier-mail-cmd-');
});
afterAll(async () => {
  await db.drop();
});

describe('dossier mail ingest', () => {
  it('a.eml empty.eml b.eml: every file processed and named, the empty one reported, exit 1', async () => {
    const files = [await file('a.eml', note(1)), await file('empty.eml', ''), await file('b.eml', note(2)), path.join(dir, 'missing.eml')];
    const r = await dossier(['mail', 'ingest', ...files], env);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^a\.eml: #\d+ quarantined — unknown sender someone1@example\.org/);
    expect(lines[1]).toBe('empty.eml: not taken in — the file is empty: there is no message in it');
    expect(lines[2]).toMatch(/^b\.eml: #\d+ quarantined — unknown sender someone2@example\.org/);
    expect(lines[3]).toBe(`missing.eml: not taken in — no such file (${path.join(dir, 'missing.eml')})`);
    expect(lines[4]).toBe('4 message(s) from 4 file(s); 2 failed.');
    expect(r.stderr).toContain('error MAIL_INGEST_FAILED: 2 of 4 message(s) failed: empty.eml, missing.eml.');
    const subjects = await sql<{ subject: string }>("SELECT subject FROM inbound_messages WHERE subject IN ('Note 1', 'Note 2') ORDER BY id");
    expect(subjects.map((s) => s.subject)).toEqual(['Note 1', 'Note 2']);
  });

  it('--json keeps one entry per message with the file name; exit 0 when nothing failed', async () => {
    const r = await dossier(['mail', 'ingest', await file('c.eml', note(3)), '--json'], env);
    expect(r.code).toBe(0);
    expect(r.json()).toEqual([expect.objectContaining({ file: 'c.eml', part: 1, parts: 1, outcome: 'quarantined', duplicate: false })]);
  });

  it('an mbox file (as Thunderbird and mutt keep folders) is split into its messages and the count is said', async () => {
    // mboxrd: a body line "From here on…" was written as ">From here on…".
    const mbox = [
      'From someone4@example.org Fri Nov 21 14:00:00 2026', note(4, '\n').replace('Note number 4.', 'Note number 4.\n>From here on, the second line.'),
      'From - Fri Nov 21 15:00:00 2026', note(5, '\n'),
      'From MAILER-DAEMON Fri Nov 21 16:00:00 2026', note(6, '\n'),
    ].join('\n');
    const r = await dossier(['mail', 'ingest', await file('folder.mbox', mbox)], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('folder.mbox: an mbox file with 3 messages');
    expect(lines.slice(1, 4).map((l) => l.replace(/#\d+/, '#N'))).toEqual([
      '  1 of 3: #N quarantined — unknown sender someone4@example.org and no record found',
      '  2 of 3: #N quarantined — unknown sender someone5@example.org and no record found',
      '  3 of 3: #N quarantined — unknown sender someone6@example.org and no record found',
    ]);
    const rows = await sql<{ subject: string; source_ref: string }>("SELECT subject, source_ref FROM inbound_messages WHERE source_ref LIKE 'folder.mbox#%' ORDER BY id");
    expect(rows).toEqual([
      { subject: 'Note 4', source_ref: 'folder.mbox#1' },
      { subject: 'Note 5', source_ref: 'folder.mbox#2' },
      { subject: 'Note 6', source_ref: 'folder.mbox#3' },
    ]);
    const [first] = await sql<{ id: number }>("SELECT id FROM inbound_messages WHERE source_ref = 'folder.mbox#1'");
    const shown = await dossier(['mail', 'show', String(first!.id)], env);
    expect(shown.stdout).toContain('Note number 4.\nFrom here on, the second line.');
  });
});

describe('dossier mail list', () => {
  it('newest first, a page at a time, with the way to the next page', async () => {
    const all = await sql<{ id: number }>('SELECT id FROM inbound_messages ORDER BY id DESC');
    expect(all.length).toBe(6);
    const first = await dossier(['mail', 'list', '--limit', '4', '--json'], env);
    const page = first.json<{ rows: { id: number }[]; nextBefore: number | null; total: number }>();
    expect(page.rows.map((r) => r.id)).toEqual(all.slice(0, 4).map((r) => r.id));
    expect(page).toMatchObject({ total: 6, nextBefore: all[3]!.id });
    const text = await dossier(['mail', 'list', '--limit', '4'], env);
    expect(text.stdout.split('\n').at(-1)).toBe(`4 of 6 message(s); the next page: add --before ${all[3]!.id}`);
    const second = (await dossier(['mail', 'list', '--limit', '4', '--before', String(page.nextBefore), '--json'], env)).json<typeof page>();
    expect(second.rows.map((r) => r.id)).toEqual(all.slice(4).map((r) => r.id));
    expect(second.nextBefore).toBeNull();
  });

  it('filters by outcome, mailbox, record and date; bad values are refused clearly', async () => {
    const j = async (...args: string[]) => (await dossier(['mail', 'list', ...args, '--json'], env)).json<{ rows: { subject: string }[]; total: number }>();
    expect((await j('--outcome', 'quarantined')).total).toBe(6);
    expect((await j('--outcome', 'applied')).total).toBe(0);
    expect((await j('--mailbox', 'stdin')).total).toBe(6);
    expect((await j('--mailbox', 'decisions')).total).toBe(0);
    expect((await j('--since', '2000-01-01')).total).toBe(6);
    expect((await j('--since', '01.01.2999')).total).toBe(0);
    expect((await j('--record', 'DL-2026-00001')).total).toBe(0);
    // A stranger naming a record's reference is quarantined against that record.
    const ref = (await dossier(['record', 'create', 'deal', '--json'], env)).json<{ ref: string }>().ref;
    await dossier(['mail', 'ingest', await file('tagged.eml', note(7).replace('Subject: Note 7', `Subject: [${ref}] Note 7`))], env);
    const tagged = await j('--record', ref.toLowerCase());
    expect(tagged.rows.map((r) => r.subject)).toEqual([`[${ref}] Note 7`]);
    expect((await j('--record', ref, '--outcome', 'applied')).total).toBe(0);
    const bad = await dossier(['mail', 'list', '--outcome', 'bounced'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"bounced" is not an outcome.');
    const limit = await dossier(['mail', 'list', '--limit', 'ten'], env);
    expect(limit.stderr).toContain('--limit must be a whole number, not "ten".');
  });
});
