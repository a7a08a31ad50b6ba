import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Actor, App } from '../../app.js';
import { demoSigner } from '../../inbound/demo-signer.js';
import { ensureMaildir, maildirPath } from '../../inbound/maildir.js';
import { createLogger } from '../../jobs/log.js';
import { startWorker } from '../../jobs/service.js';
import { outboxDir } from '../../outbound/outbox.js';
import { tokenSecret } from '../../outbound/settings.js';
import { sendPackageSet } from '../../packages/send.js';
import { fixturesDir } from '../../paths.js';
import { fillMailFixture } from '../../tools/mail-fixtures.js';
import { checklistsEvidenceDeadlinesStory } from '../../evidence/demo-story.js';
import { approvalsAndRemindersStory } from '../../approvals/demo-story.js';
import { attachFiles } from '../../records/attachments.js';
import { importRecords } from '../../schemas/bulk.js';
import { setFields } from '../../schemas/fields.js';
import { smsDir } from '../../outbound/sms.js';
import { DossierError } from '../../errors.js';
import { createLink } from '../../portal/links.js';
import { recordHistoryCmd, renderHistory } from './records.js';

// `dossier demo`: the whole story on the embedded defaults, narrated. A deal (a client, three banks)
// and a claim (a fleet company, its insurer, broker, lessor and lawyer) are imported with their
// values and scans; every package is built and sent (to the file outbox); then a day's mail arrives
// in the local Maildir — a manager's forward of one bank's approval and of another bank's refusal, the
// lawyer's reply with two documents, an auto-reply and a spoofed approval — and the worker (the same
// code as `dossier worker`) processes it. Each run makes new records, so running it again works; the
// incoming messages are the fixtures in fixtures/mail/, addressed to this run's records.

export interface DemoResult {
  deal: string;
  claim: string;
  ref: string; // the deal, for scripts written against the first demo
  packagesSent: number;
  incoming: { file: string; what: string; outcome: string; reason: string }[];
  dirs: { home: string; outbox: string; sms: string; inbox: string };
  /** Issue 18: portal links for the claim's client and lawyer. */
  links: { client: string; lawyer: string };
}

const MAIL = path.join(fixturesDir, 'mail');

/** The day's mail: which fixture, what it is, and how it is addressed to this run's records. */
const INCOMING = [
  { fixture: '01-outlook-ru-forward-approved.eml', what: 'the manager forwards Bank Severny’s approval, «одобрено, сумма 1 500 000»', record: 'deal', staff: true },
  { fixture: '02-gmail-ru-forward-declined.eml', what: 'the manager forwards Volga-Credit’s refusal, «отказ»', record: 'deal', staff: true },
  { fixture: '21-lawyer-reply-two-pdfs.eml', what: 'the lawyer replies to his package with two PDFs', record: 'claim' },
  { fixture: '25-exchange-autoreply-ru.eml', what: 'an Exchange out-of-office auto-reply', record: null },
  { fixture: '18-spoof-no-auth-results.eml', what: 'a spoofed “approval” in the manager’s name from an outside server', record: null },
] as const;

export async function demo(app: App, actor: Actor, say: (line: string) => void): Promise<DemoResult> {
  say(`Dossier demo — data in ${app.home}${app.embedded ? ' (embedded PostgreSQL)' : ''}`);
  const scan = (f: string) => path.join(fixturesDir, 'scans', f);

  // 1. The records.
  const [deal] = await importRecords(app, actor, 'deal', path.join(fixturesDir, 'records', 'deal.json'));
  await attachFiles(app.db, app.blobs, app.config, actor, deal!.ref, [scan('passport-smirnov.pdf'), scan('passport-smirnov-p2.jpg')], 'passport_scans');
  await attachFiles(app.db, app.blobs, app.config, actor, deal!.ref, [scan('income-2ndfl-smirnov.pdf')], 'income_documents');
  await setFields(app, actor, deal!.ref, [{ party: null, field: 'loan_term_months', raw: '72' }], { source: 'cli' });
  say(`1. Deal ${deal!.ref}: ${deal!.values} values, parties ${deal!.parties.join(', ')}; passport and income scans attached.`);
  say(`   The base loan term changed to 72 months: bank-sever keeps its own 48 (now a stale override, see \`dossier field show ${deal!.ref} --recipient bank-sever\`).`);
  const [claim] = await importRecords(app, actor, 'claim', path.join(fixturesDir, 'records', 'claim.json'));
  await attachFiles(app.db, app.blobs, app.config, actor, claim!.ref, [scan('police-report-cl.pdf')], 'police_report');
  await attachFiles(app.db, app.blobs, app.config, actor, claim!.ref, [scan('scene-photo-1.jpg')], 'scene_photos');
  say(`   Claim ${claim!.ref}: ${claim!.values} values, parties ${claim!.parties.join(', ')}; police report and a scene photo attached.`);

  // 2. Every package, into the outbox; the records' status follows (statusOnSend).
  say('2. The packages, built (documents filled, scans added, a manifest) and queued:');
  const queued: number[] = [];
  for (const ref of [deal!.ref, claim!.ref]) {
    const r = await sendPackageSet(app, actor, ref, { recipients: 'all' });
    const failed = r.recipients.filter((x) => x.outcome === 'failed');
    if (failed.length) throw new DossierError('DEMO_STALLED', `The demo could not send ${ref}'s packages: ${failed.map((f) => `${f.recipient}: ${f.message}`).join('; ')}`);
    queued.push(...r.mails.map((m) => m.outbox!));
    const moved = r.status && 'to' in r.status ? `; status ${r.status.from} → ${r.status.to}` : '';
    say(`   ${ref}: for ${[...new Set(r.mails.map((m) => m.recipient))].join(', ')} — ${r.mails.length} email(s)${moved}.`);
  }
  const packagesSent = queued.length;

  // 3. The worker: it sends the packages, then reads the mail below as it arrives.
  const narrate = (line: string) => {
    const e = JSON.parse(line) as { event?: string; outcome?: string; reason?: string; source?: string; to?: string[]; subject?: string; msg?: string };
    // The Maildir file name without its unique prefix: the fixture it came from.
    if (e.event === 'intake') say(`   ← ${(e.source ?? '').replace(/^maildir \S*?\.demo-[0-9a-f]+-/, '')}: ${e.outcome} — ${e.reason}`);
    else if (e.event === 'mail' && e.outcome !== 'sent') say(`   → outbox: ${e.msg}`);
  };
  const worker = await startWorker(app, createLogger(narrate, 'info'));
  try {
    say('3. The worker is running (the same code as `dossier worker`): it sends the packages…');
    await waitFor(app, 'the packages to be sent', async () => (await count(app, `SELECT count(*)::int AS n FROM outbox WHERE status IN ('queued', 'sending')`)) === 0);
    say(`   ${await count(app, `SELECT count(*)::int AS n FROM outbox WHERE status = 'sent' AND id = ANY($1)`, [queued])} of the ${queued.length} package email(s) sent, written to ${outboxDir(app)}.`);

    // 4. The day's mail arrives in the Maildir, the way a delivery agent puts it there.
    say('4. Mail arrives in the intake Maildir:');
    const dir = maildirPath(app);
    await ensureMaildir(dir);
    const fill = await placeholders(app, deal!.ref, claim!.ref);
    const run = randomBytes(4).toString('hex');
    // The managers' mail is DKIM-signed as their mail server would, with a key made for this demo (src/inbound/demo-signer.ts).
    const signer = demoSigner(app.config.mail.staff[0]?.split('@')[1] ?? app.config.mail.domain);
    app.dnsResolver ??= signer.resolver;
    const dropped: { file: string; what: string; sha?: string }[] = [];
    for (const m of INCOMING) {
      let raw = await readFile(path.join(MAIL, m.fixture), 'latin1');
      raw = await fill(raw);
      if (m.record) raw = tagSubject(raw, m.record === 'deal' ? deal!.ref : claim!.ref);
      raw = addHeader(raw, `X-Dossier-Demo-Run: ${run}`); // a new copy each run, not a duplicate of the last
      const name = `${Date.now()}.demo-${run}-${m.fixture}`;
      const bytes = Buffer.from(raw, 'latin1');
      await writeFile(path.join(dir, 'tmp', name), 'staff' in m ? await signer.sign(bytes) : bytes);
      await rename(path.join(dir, 'tmp', name), path.join(dir, 'new', name));
      dropped.push({ file: name, what: m.what });
      say(`   • ${m.what}`);
    }
    await waitFor(app, 'the mail to be processed', async () => {
      const done = await count(app, `SELECT count(*)::int AS n FROM inbound_messages WHERE source_ref = ANY($1) AND outcome IS NOT NULL`, [dropped.map((d) => d.file)]);
      const waiting = await count(app, `SELECT (SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')) + (SELECT count(*) FROM sms_outbox WHERE status = 'queued') AS n`);
      return done === dropped.length && Number(waiting) === 0;
    });
    const rows = (await app.db.query<{ source_ref: string; outcome: string; reason: string }>('SELECT source_ref, outcome, reason FROM inbound_messages WHERE source_ref = ANY($1)', [dropped.map((d) => d.file)])).rows;
    const incoming = dropped.map((d) => {
      const r = rows.find((x) => x.source_ref === d.file)!;
      return { file: d.file, what: d.what, outcome: r.outcome, reason: r.reason };
    });

    await worker.stop();

    // 5. What happened, record by record.
    say('');
    say('5. The timelines (values imported from the sample files are left out):');
    for (const ref of [deal!.ref, claim!.ref]) {
      const h = await recordHistoryCmd(app, ref);
      h.events = h.events.filter((e) => !(e.kind === 'field_set' && e.actor.startsWith('import:')));
      say('');
      say(renderHistory(h));
    }
    await checklistsEvidenceDeadlinesStory(app, actor, { deal: deal!.ref, claim: claim!.ref }, say); // issue 17
    await approvalsAndRemindersStory(app, actor, { deal: deal!.ref, claim: claim!.ref }, say); // issue 17: approvals, reminders
    const dirs = { home: app.home, outbox: outboxDir(app), sms: smsDir(app), inbox: dir };
    say('');
    say('Where to look:');
    say(`  emails sent (.eml)         ${dirs.outbox}`);
    say(`  text messages to clients   ${dirs.sms}`);
    say(`  incoming mail              ${dir}/.Processed and ${dir}/.Quarantine`);
    say(`  the packages as zips       ${path.join(app.home, 'packages')}/<record>/<recipient>/`);
    say(`  the journal                npx dossier mail list   ·   npx dossier mail show <id>`);
    say(`  the outbox                 npx dossier outbox list`);
    say(`  a record                   npx dossier record show ${deal!.ref}   ·   npx dossier record history ${claim!.ref}`);
    // Issue 18: the portal's links for the claim's client and lawyer (open them after `dossier serve`).
    const links = { client: (await createLink(app, claim!.ref, 'translogistic')).url, lawyer: (await createLink(app, claim!.ref, 'lawyer-ershov')).url };
    say(`  the portal                 npx dossier serve   (then open, on ${app.config.portal.baseUrl}:)`);
    say(`    the client's status page   ${links.client}`);
    say(`    the lawyer's upload page   ${links.lawyer}`);
    for (const line of forReal(app, dir)) say(line);
    return { deal: deal!.ref, claim: claim!.ref, ref: deal!.ref, packagesSent, incoming, dirs, links };
  } finally {
    await worker.stop();
  }
}

async function count(app: App, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await app.db.query<{ n: number | string }>(sql, params)).rows[0]!.n);
}

async function waitFor(app: App, what: string, done: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > end) {
      throw new DossierError('DEMO_STALLED', `The demo waited ${ms / 1000} s for ${what} and gave up.`, { hint: `See \`dossier mail list\` and \`dossier outbox list\` (data in ${app.home}); run \`dossier doctor\`.` });
    }
    await sleep(100);
  }
}

/** The fixtures' placeholders filled for this run's records and the packages just sent. */
async function placeholders(app: App, deal: string, claim: string): Promise<(raw: string) => Promise<string>> {
  const secret = await tokenSecret(app);
  const messageIdOf = async (party: string) =>
    (await app.db.query<{ message_id: string }>('SELECT o.message_id FROM outbox o JOIN records r ON r.id = o.record_id JOIN parties p ON p.id = o.party_id WHERE r.ref = $1 AND p.key = $2 ORDER BY o.id DESC LIMIT 1', [party.startsWith('lawyer') ? claim : deal, party])).rows[0]?.message_id ?? '<none@dossier.example>';
  return (raw) => fillMailFixture(raw, { deal, claim, secret, messageIdOf, messageIdTag: deal });
}

/** The manager keeps the record's tag in the subject when forwarding (as the confirmation asks). */
function tagSubject(raw: string, ref: string): string {
  if (raw.includes(`[${ref}`)) return raw;
  return raw.replace(/^Subject:[ \t]*/im, (m) => `${m}[${ref}] `);
}

/** One more header at the end of the header block (after any Authentication-Results and Received). */
function addHeader(raw: string, header: string): string {
  const end = raw.search(/\r?\n\r?\n/);
  return end < 0 ? raw : `${raw.slice(0, end)}\r\n${header}${raw.slice(end)}`;
}

/** How to go from the demo to real mail, for the configuration in use. */
function forReal(app: App, inbox: string): string[] {
  const m = app.config.mail;
  const mailboxes = app.config.intake.mailboxes.length;
  const steps: string[] = [];
  if (m.transport === 'file') steps.push('mail.transport: smtp and mail.smtp (host, port, user; the password in DOSSIER_MAIL__SMTP__PASSWORD) — until then mail goes to .eml files');
  if (!mailboxes) steps.push(`intake.mailboxes (the IMAP mailbox managers forward to) — until then only ${inbox} is read`);
  return [
    '',
    'Run it for real:',
    ...(steps.length ? [`  in your dossier.config.yaml (\`npx dossier where\` says which file and data home are used) set`, ...steps.map((s) => `    - ${s}`)] : []),
    '  then `npx dossier doctor` checks it, and `npx dossier worker` runs until Ctrl-C.',
  ];
}
