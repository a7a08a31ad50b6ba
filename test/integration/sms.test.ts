import { createServer, type IncomingMessage, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';

// The HTTP SMS gateway against a real HTTP server on loopback: the client's text message after a
// bank's approval is POSTed from the configured body template with the configured headers; a
// provider that is down keeps it queued, one that refuses it fails it with the provider's answer.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let server: Server;
let port: number;
const received: { headers: IncomingMessage['headers']; body: string }[] = [];
let reply: { status: number; body: string } = { status: 200, body: '{"status":"accepted","id":"sms-1"}' };
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  db = await createTestDatabase();
  // As an operator would write it: a configuration file laid over the defaults.
  const config = path.join(await tempDir(), 'dossier.config.yaml');
  await writeFile(
    config,
    [
      'notifications:',
      '  sms:',
      '    gateway: http',
      `    url: http://127.0.0.1:${port}/api/send`,
      `    body: '{"phone": {{json to}}, "message": {{json text}}, "sender": "DOSSIER"}'`,
      '    headers: { Authorization: "Bearer test-key" }',
      '',
    ].join('\n'),
  );
  env = testEnv(db.url, await tempDir(), { DOSSIER_CONFIG: config });
  await dossier(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json')], env);
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await db.drop();
});

async function ingest(fixture: string, edit: (s: string) => string = (s) => s): Promise<void> {
  const file = path.join(await tempDir(), fixture);
  const raw = (await import('node:fs/promises')).readFile(path.join(fixturesDir, 'mail', fixture), 'latin1');
  await writeFile(file, Buffer.from(edit(await raw), 'latin1'));
  const r = await dossier(['mail', 'ingest', file, '--json'], env);
  expect(r.json()[0].outcome).toBe('applied');
}

describe('the HTTP SMS gateway', () => {
  it('POSTs the client’s text message built from the body template, with the configured headers', async () => {
    await ingest('01-outlook-ru-forward-approved.eml');
    const w = await dossier(['worker', '--until-idle'], env);
    expect(w.stdout).toMatch(/SMS sent: 1/);
    expect(received).toHaveLength(1);
    expect(received[0]!.headers.authorization).toBe('Bearer test-key');
    expect(received[0]!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(received[0]!.body);
    expect(body).toMatchObject({ phone: '+7 916 123-45-67', sender: 'DOSSIER' });
    expect(body.message).toContain('Решение: одобрено. Сумма кредита: 1\u00a0500\u00a0000,00 руб.');
    const [row] = await sql<{ status: string; last_response: string }>('SELECT status, last_response FROM sms_outbox');
    expect(row).toEqual({ status: 'sent', last_response: 'HTTP 200: {"status":"accepted","id":"sms-1"}' });
  });

  it('keeps a message queued while the provider answers 503, and sends it once it is back', async () => {
    reply = { status: 503, body: 'maintenance' };
    await ingest('02-gmail-ru-forward-declined.eml');
    await dossier(['worker', '--until-idle'], env);
    const [queued] = await sql<{ status: string; last_response: string }>('SELECT status, last_response FROM sms_outbox ORDER BY id DESC LIMIT 1');
    expect(queued).toEqual({ status: 'queued', last_response: 'HTTP 503: maintenance' });
    reply = { status: 200, body: 'OK' };
    await dossier(['worker', '--until-idle'], env);
    const [sent] = await sql<{ status: string; attempts: number }>('SELECT status, attempts FROM sms_outbox ORDER BY id DESC LIMIT 1');
    expect(sent).toEqual({ status: 'sent', attempts: 2 });
  });

  it('fails a message the provider refuses (4xx) with its answer, and does not try again', async () => {
    reply = { status: 400, body: '{"error":"invalid phone"}' };
    await ingest('03-thunderbird-en-forward-approved.eml');
    const before = received.length;
    await dossier(['worker', '--until-idle'], env);
    await dossier(['worker', '--until-idle'], env);
    const [failed] = await sql<{ status: string; last_response: string }>('SELECT status, last_response FROM sms_outbox ORDER BY id DESC LIMIT 1');
    expect(failed).toEqual({ status: 'failed', last_response: 'HTTP 400: {"error":"invalid phone"}' });
    expect(received.length - before).toBe(1);
  });
});
