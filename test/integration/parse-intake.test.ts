import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { outlookForward } from '../helpers/mail.js';

// Parse-level faults of mail as it really arrives, through the real intake and database: a bank's
// approval forwarded by a manager is applied although the message has one stray byte in its UTF-8
// text, starts with a byte-order mark or an mbox "From " line, or has CR-only line ends. Before,
// each of these lost the command («одобрено, сумма 1 500 000») or all the headers.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db.url, await tempDir(), { DOSSIER_MAIL__TOKEN_SECRET: 'test-token-secret-0123456789abcdef' });
}, 120_000);
afterAll(async () => {
  await db.drop();
});

/** A new deal (submitted) and the manager's forward of bank-sever's approval about it, tagged with its reference. */
async function dealAndApproval(id: string): Promise<{ ref: string; raw: Buffer }> {
  const ref = (await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'], env)).json()[0].ref as string;
  await dossier(['record', 'status', ref, 'submitted'], env);
  const raw = outlookForward({
    id,
    command: 'одобрено, сумма 1 500 000',
    bankFrom: 'n.pavlova@bank-sever.example',
    bankName: 'Павлова Наталья Сергеевна',
    bankSubject: `[${ref}] Решение по заявке Смирнов Алексей Викторович`,
    bankText: 'Добрый день!\r\nПринято положительное решение: сумма 1 500 000 руб., срок 48 мес.\r\n\r\nС уважением,\r\nПавлова Н.С.',
  });
  return { ref, raw };
}

async function ingest(name: string, raw: Buffer) {
  const file = path.join(await tempDir(), name);
  await writeFile(file, raw);
  const r = await dossier(['mail', 'ingest', file, '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return r.json()[0] as { id: number; outcome: string; reason: string; ref: string | null };
}

async function warningsOf(id: number): Promise<string[]> {
  const [row] = await sql<{ details: { warnings?: string[] } }>('SELECT details FROM inbound_messages WHERE id = $1', [id]);
  return row!.details.warnings ?? [];
}

describe('a bank approval forwarded by a manager is applied despite', () => {
  it('one stray windows-1251 byte in the UTF-8 signature (the text stays UTF-8, not windows-1251 mojibake)', async () => {
    const { ref, raw } = await dealAndApproval('stray-byte');
    const at = raw.indexOf('С уважением,');
    const damaged = Buffer.concat([raw.subarray(0, at), Buffer.from([0xb9]), raw.subarray(at)]); // "№" in windows-1251
    const r = await ingest('stray.eml', damaged);
    expect(r).toMatchObject({ outcome: 'applied', ref });
    expect(await warningsOf(r.id)).toContain('Text (text/plain): 1 invalid byte sequence(s) in UTF-8 text replaced with U+FFFD.');
  });

  it('a UTF-8 byte-order mark before the headers (saved from Notepad)', async () => {
    const { ref, raw } = await dealAndApproval('bom');
    const r = await ingest('bom.eml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), raw]));
    expect(r).toMatchObject({ outcome: 'applied', ref });
  });

  it('an mbox "From " line before the headers (cut out of a Thunderbird folder)', async () => {
    const { ref, raw } = await dealAndApproval('mbox-line');
    const r = await ingest('from-line.eml', Buffer.concat([Buffer.from('From manager@dossier.example Mon Nov 16 10:15:00 2026\r\n'), raw]));
    expect(r).toMatchObject({ outcome: 'applied', ref });
  });

  it('CR-only line ends (an old Mac client or gateway)', async () => {
    const { ref, raw } = await dealAndApproval('cr-only');
    const r = await ingest('cr.eml', Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\r'), 'latin1'));
    expect(r).toMatchObject({ outcome: 'applied', ref });
  });
});

describe('headers of mail from outside, as the journal keeps them', () => {
  const subjectOf = async (id: number) => (await sql<{ subject: string }>('SELECT subject FROM inbound_messages WHERE id = $1', [id]))[0]!.subject;
  const plain = (headers: string[]) => Buffer.concat([...headers.map((h) => Buffer.from(h + '\r\n', 'latin1')), Buffer.from('\r\nOlá\r\n', 'latin1')]);

  it('8-bit Latin-1 headers stay Latin (Portuguese, Norwegian), not Cyrillic', async () => {
    const r = await ingest('latin1.eml', plain(['From: Håvard Sørensen <havard@example.no>', 'To: intake@dossier.example', 'Subject: Formação de preços', 'Message-ID: <latin1-1@example.no>', 'Date: Fri, 4 Dec 2026 10:00:00 +0100']));
    expect(await subjectOf(r.id)).toBe('Formação de preços');
  });

  it('adjacent ISO-2022-JP encoded words, each decoded on its own', async () => {
    // 日 and 本 in JIS X 0208, each word with its own escape sequences (as Japanese mailers write them).
    const word = (jis: string) => `=?ISO-2022-JP?B?${Buffer.from(`\x1b$B${jis}\x1b(B`, 'latin1').toString('base64')}?=`;
    const r = await ingest('jp.eml', plain(['From: tanaka@example.jp', 'To: intake@dossier.example', `Subject: ${word('F|')} ${word('K\\')}`, 'Message-ID: <jp-1@example.jp>', 'Date: Fri, 4 Dec 2026 18:00:00 +0900']));
    expect(await subjectOf(r.id)).toBe('日本');
  });
});
