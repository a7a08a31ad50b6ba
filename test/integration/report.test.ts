import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import PizZip from 'pizzip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../src/paths.js';
import { dossier, tempDir, testEnv } from '../helpers/cli.js';
import { createTestDatabase, sqlRows, type TestDatabase } from '../helpers/db.js';
import { pdfText } from '../helpers/documents.js';

// `dossier report` over real decisions: the sample deal and claim get their banks' and insurer's
// decisions through `mail ingest` of the fixture forwards (and more records get theirs through
// `field set`), then the test moves the timestamps in SQL — records.created_at, the events' `at`,
// the outbox rows — so that every duration is a known whole number of days (or minutes) and the
// medians and 90th percentiles can be written down here.

const run = promisify(execFile);
let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let work: string;
const refs: Record<string, string> = {};
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlRows<T>(db, text, params);

async function ok(args: string[]) {
  const r = await dossier(args, env);
  expect(r.stderr, args.join(' ')).toBe('');
  expect(r.code, args.join(' ')).toBe(0);
  return r;
}

const T0 = '2026-10-05T09:00:00Z';

/** The decision in one party's section was first given `days` after the record was created. */
async function decidedAfter(ref: string, party: string, days: number) {
  const n = await sql(
    `UPDATE events e SET at = r.created_at + make_interval(days => $3) FROM records r, parties p
     WHERE e.record_id = r.id AND p.id = e.party_id AND r.ref = $1 AND p.key = $2 AND e.kind = 'field_set' AND e.field = 'decision' RETURNING e.id`,
    [ref, party, days],
  );
  expect(n.length, `${ref} ${party}`).toBe(1);
}

/** The record reached `status` `days` after it was created. */
async function reachedAfter(ref: string, status: string, days: number) {
  const n = await sql(
    `UPDATE events e SET at = r.created_at + make_interval(days => $3) FROM records r
     WHERE e.record_id = r.id AND r.ref = $1 AND e.kind = 'status_changed' AND e.new_value #>> '{}' = $2 RETURNING e.id`,
    [ref, status, days],
  );
  expect(n.length, `${ref} ${status}`).toBe(1);
}

beforeAll(async () => {
  db = await createTestDatabase();
  work = await tempDir();
  // English texts for most tests (the Russian default has a test of its own below).
  env = testEnv(db.url, await tempDir(), { DOSSIER_MAIL__TOKEN_SECRET: 'report-token-secret-0123456789abcdef', DOSSIER_LANGUAGE: 'en' });
  refs.d1 = (await ok(['record', 'import', 'deal', path.join(fixturesDir, 'records', 'deal.json'), '--json'])).json()[0].ref;
  refs.c1 = (await ok(['record', 'import', 'claim', path.join(fixturesDir, 'records', 'claim.json'), '--json'])).json()[0].ref;
  await ok(['record', 'status', refs.d1!, 'submitted']);
  await ok(['record', 'status', refs.c1!, 'submitted']);

  // Real decisions from the managers' forwards: Severny approves, Volga declines, Meridian approves
  // the Smirnov deal; Magistral approves the TransLogistic claim. Then an auto-reply (ignored) and a
  // spoof (quarantined) for the intake figures.
  const mail = (f: string) => path.join(fixturesDir, 'mail', f);
  const ingested = (
    await ok([
      'mail',
      'ingest',
      mail('01-outlook-ru-forward-approved.eml'),
      mail('02-gmail-ru-forward-declined.eml'),
      mail('03-thunderbird-en-forward-approved.eml'),
      mail('12-outlook-en-forward-insurer-approved.eml'),
      mail('25-exchange-autoreply-ru.eml'),
      mail('18-spoof-no-auth-results.eml'),
      '--json',
    ])
  ).json() as { outcome: string }[];
  expect(ingested.map((m) => m.outcome)).toEqual(['applied', 'applied', 'applied', 'applied', 'ignored', 'quarantined']);
  await ok(['record', 'status', refs.d1!, 'signed']); // decided (by Severny's approval) → signed
  await ok(['record', 'status', refs.c1!, 'closed']); // settled (by Magistral's approval) → closed

  // More records whose decisions staff typed in.
  refs.d2 = (await ok(['record', 'create', 'deal', '--title', 'Ипотека'])).stdout;
  for (const b of ['bank-sever', 'bank-volga']) await ok(['record', 'link', refs.d2, b, '--role', 'recipient']);
  await ok(['field', 'set', refs.d2, '--recipient', 'bank-sever', 'decision=approved']);
  await ok(['field', 'set', refs.d2, '--recipient', 'bank-volga', 'decision=more_info']);
  await ok(['record', 'status', refs.d2, 'closed']);
  refs.d3 = (await ok(['record', 'create', 'deal', '--title', 'Автокредит, сентябрь'])).stdout;
  await ok(['record', 'link', refs.d3, 'bank-sever', '--role', 'recipient']);
  await ok(['field', 'set', refs.d3, '--recipient', 'bank-sever', 'decision=declined']);
  await ok(['record', 'status', refs.d3, 'submitted']);
  refs.c2 = (await ok(['record', 'create', 'claim'])).stdout;
  await ok(['record', 'link', refs.c2, 'insurer-magistral', '--role', 'recipient']);
  await ok(['field', 'set', refs.c2, '--recipient', 'insurer-magistral', 'decision=declined']);

  // Deterministic times (set in SQL, see the top): all created on T0 except d3, created in September.
  await sql(`UPDATE records SET created_at = $1`, [T0]);
  await sql(`UPDATE records SET created_at = '2026-09-10T09:00:00Z' WHERE ref = $1`, [refs.d3]);
  await decidedAfter(refs.d1!, 'bank-sever', 2);
  await decidedAfter(refs.d1!, 'bank-volga', 3);
  await decidedAfter(refs.d1!, 'bank-meridian', 6);
  await decidedAfter(refs.d2, 'bank-sever', 4);
  await decidedAfter(refs.d2, 'bank-volga', 1); // more_info: not a decision, not timed
  await decidedAfter(refs.d3, 'bank-sever', 9);
  await decidedAfter(refs.c1!, 'insurer-magistral', 5);
  await decidedAfter(refs.c2, 'insurer-magistral', 7);
  await reachedAfter(refs.d1!, 'signed', 10);
  await reachedAfter(refs.d2, 'closed', 20);
  await reachedAfter(refs.c1!, 'closed', 12);

  // The outbox (notifications and confirmations the intake queued): the first bounced a minute
  // after it was sent, the second failed after 5 attempts, the rest sent 2, 4, 6 … minutes after
  // queueing (the third on its second attempt).
  const ids = (await sql<{ id: number }>('SELECT id FROM outbox ORDER BY id')).map((r) => Number(r.id));
  expect(ids.length).toBe(9);
  await sql(`UPDATE outbox SET created_at = $1`, [T0]);
  await sql(`UPDATE outbox SET status = 'bounced', attempts = 1, sent_at = created_at + interval '1 minute' WHERE id = $1`, [ids[0]]);
  await sql(`UPDATE outbox SET status = 'failed', attempts = 5 WHERE id = $1`, [ids[1]]);
  for (const [i, id] of ids.slice(2).entries()) {
    await sql(`UPDATE outbox SET status = 'sent', attempts = $2, sent_at = created_at + make_interval(mins => $3) WHERE id = $1`, [id, i === 0 ? 2 : 1, 2 * (i + 1)]);
  }
});
afterAll(() => db.drop());

interface Timing { count: number; medianDays: number | null; p90Days: number | null }
const t = (count: number, medianDays: number | null, p90Days: number | null): Timing => ({ count, medianDays, p90Days });

describe('dossier report', () => {
  it('gives statuses, times per bank and insurer, decisions, delivery and intake as JSON', async () => {
    const r = (await ok(['report', '--json'])).json();
    const counts = (type: string) => Object.fromEntries((r.statuses as { type: string; status: string; count: number }[]).filter((s) => s.type === type).map((s) => [s.status, s.count]));
    expect(counts('deal')).toEqual({ new: 0, collecting: 0, submitted: 1, decided: 0, signed: 1, declined: 0, closed: 1 });
    expect(counts('claim')).toEqual({ reported: 1, assessing: 0, submitted: 0, settled: 0, rejected: 0, disputed: 0, closed: 1 });
    expect(r.statuses[4]).toMatchObject({ type: 'deal', status: 'signed', label: { ru: 'Кредит выдан', en: 'Signed' }, final: true });

    // Deals: decisions after 2, 3, 4, 6, 9 days; finals after 10 and 20 days.
    expect(r.timings).toEqual([
      { type: 'deal', party: null, partyName: null, decision: t(5, 4, 7.8), final: t(2, 15, 19) },
      { type: 'deal', party: 'bank-meridian', partyName: 'КБ «Меридиан» (АО)', decision: t(1, 6, 6), final: t(1, 10, 10) },
      { type: 'deal', party: 'bank-sever', partyName: 'АО «Банк Северный»', decision: t(3, 4, 8), final: t(2, 15, 19) },
      { type: 'deal', party: 'bank-volga', partyName: 'ПАО «Волга-Кредит Банк»', decision: t(1, 3, 3), final: t(2, 15, 19) },
      { type: 'claim', party: null, partyName: null, decision: t(2, 6, 6.8), final: t(1, 12, 12) },
      { type: 'claim', party: 'insurer-magistral', partyName: expect.any(String), decision: t(2, 6, 6.8), final: t(1, 12, 12) },
    ]);
    expect(r.decisions).toEqual([
      { type: 'deal', party: 'bank-meridian', partyName: 'КБ «Меридиан» (АО)', approved: 1, declined: 0, more_info: 0, total: 1 },
      { type: 'deal', party: 'bank-sever', partyName: 'АО «Банк Северный»', approved: 2, declined: 1, more_info: 0, total: 3 },
      { type: 'deal', party: 'bank-volga', partyName: 'ПАО «Волга-Кредит Банк»', approved: 0, declined: 1, more_info: 1, total: 2 },
      { type: 'claim', party: 'insurer-magistral', partyName: expect.any(String), approved: 1, declined: 1, more_info: 0, total: 2 },
    ]);
    // Sent after 1 (the bounce), 2, 4 … 14 minutes; attempts 1 + 5 + 2 + 6 × 1 over 9 tried.
    expect(r.outbox).toEqual({
      total: 9,
      byStatus: [
        { status: 'queued', count: 0 },
        { status: 'sending', count: 0 },
        { status: 'sent', count: 7 },
        { status: 'failed', count: 1 },
        { status: 'bounced', count: 1 },
      ],
      bounced: 1,
      failed: 1,
      avgAttempts: 1.56,
      sendTime: { count: 8, medianMinutes: 7, p90Minutes: 12.6, avgMinutes: 7.1 },
    });
    expect(r.intake).toEqual({
      total: 6,
      byOutcome: [
        { outcome: 'applied', count: 4 },
        { outcome: 'partial', count: 0 },
        { outcome: 'quarantined', count: 1 },
        { outcome: 'ignored', count: 1 },
        { outcome: 'refused', count: 0 },
        { outcome: 'failed', count: 0 },
        { outcome: 'pending', count: 0 },
      ],
    });
    expect(r.output).toEqual({ format: 'table', files: [] });
  });

  it('--since (dd.mm.yyyy or ISO) leaves out older records; --type one type', async () => {
    for (const since of ['01.10.2026', '2026-10-01']) {
      const r = (await ok(['report', '--type', 'deal', '--since', since, '--json'])).json();
      expect(r.filter).toEqual({ type: 'deal', since: new Date(2026, 9, 1).toISOString() });
      expect(r.statuses.map((s: { type: string }) => s.type)).not.toContain('claim');
      // d3 (September) is gone: Severny's decisions after 2 and 4 days; all: 2, 3, 4, 6.
      expect(r.timings.slice(0, 3)).toEqual([
        { type: 'deal', party: null, partyName: null, decision: t(4, 3.5, 5.4), final: t(2, 15, 19) },
        expect.objectContaining({ party: 'bank-meridian' }),
        { type: 'deal', party: 'bank-sever', partyName: 'АО «Банк Северный»', decision: t(2, 3, 3.8), final: t(2, 15, 19) },
      ]);
      expect(r.statuses.find((s: { status: string }) => s.status === 'submitted').count).toBe(0);
    }
  });

  it('prints readable tables by default', async () => {
    const text = (await ok(['report'])).stdout;
    expect(text).toMatch(/^Dossier report — deals and claims/);
    for (const heading of ['Statuses', 'Times', 'Decisions', 'Outbox', 'Intake', 'Promises', 'Reused evidence']) expect(text).toMatch(new RegExp(`^${heading}$`, 'm'));
    expect(text).toMatch(/^deal\s+signed\s+Signed\s+yes\s+1$/m);
    expect(text).toMatch(/^deal\s+bank-sever\s+АО «Банк Северный»\s+3\s+4\.0\s+8\.0\s+2\s+15\.0\s+19\.0$/m);
    expect(text).toMatch(/^deal\s+\(all\)\s+5\s+4\.0\s+7\.8\s+2\s+15\.0\s+19\.0$/m);
    expect(text).toMatch(/^deal\s+bank-volga\s+ПАО «Волга-Кредит Банк»\s+0\s+1\s+1\s+2$/m);
    expect(text).toMatch(/^median minutes to send\s+7$/m);
    expect(text).toMatch(/^quarantined\s+1$/m);
  });

  it('writes an XLSX: a sheet a section with headers and number formats, and bar charts over the right cells', async () => {
    const file = path.join(work, 'report.xlsx');
    const r = (await ok(['report', '--format', 'xlsx', '-o', file, '--json'])).json();
    expect(r.output).toEqual({ format: 'xlsx', files: [file], sheets: ['Statuses', 'Times', 'Decisions', 'Outbox', 'Intake', 'Promises', 'Reused evidence', 'About'], charts: 4 });
    expect((await dossier(['report', '--format', 'xlsx', '-o', file], env)).stdout).toBe(`Wrote the report to ${file} (8 sheets: Statuses, Times, Decisions, Outbox, Intake, Promises, Reused evidence, About; 4 chart(s)).`);

    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Statuses', 'Times', 'Decisions', 'Outbox', 'Intake', 'Promises', 'Reused evidence', 'About']);
    const times = wb.getWorksheet('Times')!;
    expect(times.getRow(1).values).toEqual([undefined, 'type', 'party', 'name', 'decisions', 'median days to decision', 'p90 days to decision', 'final', 'median days to final', 'p90 days to final']);
    expect(times.getRow(4).values).toEqual([undefined, 'deal', 'bank-sever', 'АО «Банк Северный»', 3, 4, 8, 2, 15, 19]);
    expect(times.getCell('F4').numFmt).toBe('0.0');
    expect(times.getColumn(3).width).toBeGreaterThanOrEqual('ПАО «Волга-Кредит Банк»'.length);
    const statuses = wb.getWorksheet('Statuses')!;
    expect(statuses.getRow(1).values).toEqual([undefined, 'type', 'status', 'label', 'final', 'records']);
    expect(statuses.getRow(6).values).toEqual([undefined, 'deal', 'signed', 'Signed', 'yes', 1]);
    expect(statuses.getRow(15).values).toEqual([undefined, 'claim', 'closed', 'Closed', 'yes', 1]);
    const outbox = wb.getWorksheet('Outbox')!;
    expect(outbox.getRow(7).values).toEqual([undefined, 'bounced', 1]);

    // The chart parts: records by status per type, median days per bank / insurer.
    const zip = new PizZip(await readFile(file));
    const charts = Object.keys(zip.files).filter((f) => /^xl\/charts\/chart\d+\.xml$/.test(f)).sort();
    expect(charts).toEqual(['xl/charts/chart1.xml', 'xl/charts/chart2.xml', 'xl/charts/chart3.xml', 'xl/charts/chart4.xml']);
    const refsOf = (f: string) => [...zip.file(f)!.asText().matchAll(/<c:f>([^<]*)<\/c:f>/g)].map((m) => m[1]!.replace(/&apos;/g, "'"));
    expect(refsOf('xl/charts/chart1.xml')).toEqual(["'Statuses'!$E$1", "'Statuses'!$C$2:$C$8", "'Statuses'!$E$2:$E$8"]);
    expect(refsOf('xl/charts/chart2.xml')).toEqual(["'Statuses'!$E$1", "'Statuses'!$C$9:$C$15", "'Statuses'!$E$9:$E$15"]);
    expect(refsOf('xl/charts/chart3.xml')).toEqual(["'Times'!$E$1", "'Times'!$C$3:$C$5", "'Times'!$E$3:$E$5", "'Times'!$H$1", "'Times'!$C$3:$C$5", "'Times'!$H$3:$H$5"]);
    expect(refsOf('xl/charts/chart4.xml')).toEqual(["'Times'!$E$1", "'Times'!$C$7:$C$7", "'Times'!$E$7:$E$7", "'Times'!$H$1", "'Times'!$C$7:$C$7", "'Times'!$H$7:$H$7"]);
    const types = zip.file('[Content_Types].xml')!.asText();
    for (const part of [...charts, 'xl/drawings/drawing1.xml', 'xl/drawings/drawing2.xml']) expect(types).toContain(`PartName="/${part}"`);
    // Each sheet with charts points at its drawing, and the drawing at its charts.
    const sheet1 = zip.file('xl/worksheets/sheet1.xml')!.asText();
    const rid = /<drawing r:id="(rId\d+)"\/>/.exec(sheet1)![1];
    expect(zip.file('xl/worksheets/_rels/sheet1.xml.rels')!.asText()).toMatch(new RegExp(`Id="${rid}"[^>]*Target="../drawings/drawing1.xml"`));
    expect(zip.file('xl/drawings/_rels/drawing1.xml.rels')!.asText()).toContain('Target="../charts/chart2.xml"');
    expect(zip.file('xl/worksheets/sheet2.xml')!.asText()).toMatch(/<drawing r:id="rId\d+"\/>/);
  });

  it('the XLSX opens in LibreOffice, charts included', async () => {
    const file = path.join(work, 'report.xlsx');
    await ok(['report', '--format', 'xlsx', '-o', file]);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dossier-lo-'));
    // A profile directory of its own (as test/helpers/documents.ts does): conversions must not share one.
    const lo = await run('soffice', [`-env:UserInstallation=file://${dir}/profile`, '--headless', '--convert-to', 'pdf', '--outdir', dir, file], { timeout: 120_000 });
    // soffice exits 0 even when it cannot load the file (e.g. Writer installed without Calc).
    expect(existsSync(path.join(dir, 'report.pdf')), `LibreOffice did not convert the xlsx (is Calc installed? libreoffice-calc-nogui): ${lo.stderr}`).toBe(true);
    const text = await pdfText(path.join(dir, 'report.pdf'));
    expect(text).toContain('АО «Банк Северный»');
    expect(text).toContain('Signed');
    // The chart titles are drawn only when LibreOffice read the chart parts.
    expect(text).toContain('Records by status: deal');
    expect(text).toContain('Median days per bank: deal');
  }, 180_000);

  it('writes CSV as one file per section into a directory, for Russian Excel (BOM, ";", decimal comma)', async () => {
    const dir = path.join(work, 'csv');
    const r = (await ok(['report', '--format', 'csv', '-o', dir, '--json'])).json();
    expect(r.output.files.map((f: string) => path.basename(f))).toEqual(['statuses.csv', 'times.csv', 'decisions.csv', 'outbox.csv', 'intake.csv', 'promises.csv', 'evidence.csv']);
    expect((await readdir(dir)).sort()).toEqual(['decisions.csv', 'evidence.csv', 'intake.csv', 'outbox.csv', 'promises.csv', 'statuses.csv', 'times.csv']);
    const raw = await readFile(path.join(dir, 'times.csv'), 'utf8');
    expect(raw.startsWith('\uFEFF')).toBe(true);
    expect(raw).toContain('\r\n');
    const rows = parseCsv(raw.slice(1), { delimiter: ';' }) as string[][];
    expect(rows[0]).toEqual(['type', 'party', 'name', 'decisions', 'median days to decision', 'p90 days to decision', 'final', 'median days to final', 'p90 days to final']);
    expect(rows[1]).toEqual(['deal', '(all)', '', '5', '4', '7,8', '2', '15', '19']);
    expect(rows).toContainEqual(['deal', 'bank-sever', 'АО «Банк Северный»', '3', '4', '8', '2', '15', '19']);
    const outbox = parseCsv((await readFile(path.join(dir, 'outbox.csv'), 'utf8')).slice(1), { delimiter: ';' }) as string[][];
    expect(outbox).toContainEqual(['p90 minutes to send', '12,6']);
  });

  it('speaks the configured language, Russian by default: headings, sheets, headers, chart titles, CSV headers', async () => {
    const ru = { ...env };
    delete ru.DOSSIER_LANGUAGE;
    const text = (await dossier(['report'], ru)).stdout;
    expect(text).toMatch(/^Отчёт Dossier — сделки и убытки/);
    for (const heading of ['Статусы', 'Сроки', 'Решения', 'Отправка', 'Входящие']) expect(text).toMatch(new RegExp(`^${heading}$`, 'm'));
    expect(text).toMatch(/^тип\s+статус\s+название\s+итоговый\s+записей$/m);
    expect(text).toMatch(/^deal\s+signed\s+Кредит выдан\s+да\s+1$/m);
    expect(text).toMatch(/^deal\s+\(все\)\s+5\s+4\.0\s+7\.8/m);
    expect(text).toMatch(/^медиана минут до отправки\s+7$/m);
    expect(text).not.toMatch(/Statuses|median days|Records by status/);

    const file = path.join(work, 'report-ru.xlsx');
    const r = (await dossier(['report', '--format', 'xlsx', '-o', file, '--json'], ru)).json();
    expect(r.output.sheets).toEqual(['Статусы', 'Сроки', 'Решения', 'Отправка', 'Входящие', 'Обещанные сроки', 'Повторные файлы', 'Об отчёте']);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    expect(wb.getWorksheet('Сроки')!.getRow(1).values).toEqual([undefined, 'тип', 'сторона', 'наименование', 'решений', 'медиана дней до решения', 'p90 дней до решения', 'завершено', 'медиана дней до итога', 'p90 дней до итога']);
    const zip = new PizZip(await readFile(file));
    const titles = Object.keys(zip.files)
      .filter((f) => /^xl\/charts\/chart\d+\.xml$/.test(f))
      .sort()
      .map((f) => /<a:t>([^<]*)<\/a:t>/.exec(zip.file(f)!.asText())![1]);
    expect(titles).toEqual(['Записи по статусам: deal', 'Записи по статусам: claim', 'Медиана дней по банкам: deal', 'Медиана дней по страховщикам: claim']);
    expect(/<c:f>([^<]*)<\/c:f>/.exec(zip.file('xl/charts/chart1.xml')!.asText())![1]!.replace(/&apos;/g, "'")).toBe("'Статусы'!$E$1");

    const dir = path.join(work, 'csv-ru');
    await dossier(['report', '--format', 'csv', '-o', dir], ru);
    const rows = parseCsv((await readFile(path.join(dir, 'statuses.csv'), 'utf8')).slice(1), { delimiter: ';' }) as string[][];
    expect(rows[0]).toEqual(['тип', 'статус', 'название', 'итоговый', 'записей']);
  });

  it('refuses a bad date, format or CSV target, saying what to give instead', async () => {
    const bad = await dossier(['report', '--since', '31.02.2026'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('error USAGE: --since "31.02.2026" is not a date.');
    expect(bad.stderr).toContain('hint: Give a date as 01.10.2026 or 2026-10-01');
    const fmt = await dossier(['report', '--format', 'pdf'], env);
    expect(fmt.code).toBe(1);
    expect(fmt.stderr).toContain('--format must be table, xlsx or csv, not "pdf".');
    const csv = await dossier(['report', '--format', 'csv', '-o', path.join(work, 'one.csv')], env);
    expect(csv.code).toBe(1);
    expect(csv.stderr).toContain('the CSV report is one file per section, so -o names a directory.');
    const type = await dossier(['report', '--type', 'lease'], env);
    expect(type.stderr).toContain('error RECORD_TYPE_UNKNOWN');
  });
});
