// Benchmark: messages per second through the whole intake (journal, parse, route, act, outcome),
// from a Maildir and from IMAP (Dovecot), beside mailparser's own parse rate on the same messages,
// measured in the same run. Targets: at least 0.5× mailparser's rate from the Maildir and 0.35×
// from IMAP (Dossier does a parse of its own plus the journal, routing and a transaction per
// message). `npm run bench`.
import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dist, onStop, removeTemp, result, root, tempDir, verdict } from './lib.mjs';

const TARGET_MAILDIR = 0.5;
const TARGET_IMAP = 0.35;
const COPIES = 8; // of each fixture without placeholders: ~300 messages

function messages() {
  const dir = path.join(root, 'fixtures', 'mail');
  const list = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()) {
    const raw = readFileSync(dir + '/' + f, 'latin1');
    if (raw.includes('{{')) continue;
    for (let i = 0; i < COPIES; i++) {
      // A distinct Message-ID (and so distinct bytes) per copy: the journal would drop exact duplicates.
      list.push(Buffer.from(raw.replace(/^Message-ID:\s*<([^>]*)>/im, (_m, id) => `Message-ID: <bench${i}.${id}>`), 'latin1'));
    }
  }
  return list;
}

/** The process's peak resident set so far, in MiB (the phases run one after another in this process). */
const peakRss = () => process.resourceUsage().maxRSS / 1024;

async function mailparserRate(msgs) {
  const { simpleParser } = await import('mailparser');
  let ok = 0;
  const t0 = performance.now();
  for (const m of msgs) {
    try {
      await simpleParser(m);
      ok++;
    } catch {
      // mailparser gives up on some hostile fixtures (5,000-deep multipart); counted, not parsed
    }
  }
  return { rate: msgs.length / ((performance.now() - t0) / 1000), ok, rss: peakRss() };
}

async function dossierApp(home, extraEnv) {
  Object.assign(process.env, { DOSSIER_HOME: home, DOSSIER_USER: 'bench', ...extraEnv });
  // Neither a shell's DATABASE_URL nor the working copy's dossier.config.yaml (cwd: the temp dir)
  // may point the benchmark at a real database or mailbox.
  delete process.env.DATABASE_URL;
  const { openApp } = await import(dist('app.js'));
  return openApp({ env: process.env, cwd: path.dirname(home) });
}

async function seed(app) {
  const { importRecords } = await import(dist('schemas/bulk.js'));
  const actor = { id: 'bench', source: 'cli' };
  await importRecords(app, actor, 'deal', path.join(root, 'fixtures/records/deal.json'));
  await importRecords(app, actor, 'claim', path.join(root, 'fixtures/records/claim.json'));
  // Many messages from one manager in an hour are normal here.
  await app.db.query("SELECT 1");
}

async function maildirRate(msgs, home) {
  const app = await dossierApp(home, { DOSSIER_INTAKE__PER_SENDER_PER_HOUR: '100000' });
  try {
    await seed(app);
    const { maildirPath, ensureMaildir, pollMaildir } = await import(dist('inbound/maildir.js'));
    const dir = maildirPath(app);
    await ensureMaildir(dir);
    msgs.forEach((m, i) => writeFileSync(path.join(dir, 'new', `${Date.now()}.${i}.bench`), m));
    const t0 = performance.now();
    const results = await pollMaildir(app);
    const s = (performance.now() - t0) / 1000;
    return { rate: results.length / s, n: results.length, rss: peakRss() };
  } finally {
    await app.close();
  }
}

async function imapRate(msgs, home) {
  if (!existsSync('/usr/sbin/dovecot')) return null;
  const { startDovecot } = await import('../test/helpers/dovecot-server.mjs');
  const dc = await startDovecot();
  const stopDovecot = onStop(async () => {
    await dc.stop();
    removeTemp(dc.dir); // the server's mail and state: startDovecot leaves them to the caller
  });
  try {
    const c = dc.client('intake');
    await c.connect();
    for (const m of msgs) await c.append('INBOX', m);
    await c.logout();
    const app = await dossierApp(home, {
      DOSSIER_INTAKE__PER_SENDER_PER_HOUR: '100000',
      DOSSIER_INTAKE__MAILBOXES: `[{name: bench, host: 127.0.0.1, port: ${dc.port}, security: none, user: intake, password: secret}]`,
    });
    try {
      await seed(app);
      const { pollImap } = await import(dist('inbound/imap.js'));
      const t0 = performance.now();
      const rep = await pollImap(app, app.config.intake.mailboxes[0]);
      const s = (performance.now() - t0) / 1000;
      return { rate: rep.results.length / s, n: rep.results.length, rss: peakRss() };
    } finally {
      await app.close();
    }
  } finally {
    await stopDovecot();
  }
}

export async function runIntakeBench() {
  const msgs = messages();
  const dir = tempDir('dossier-bench-intake-');
  try {
    const mp = await mailparserRate(msgs);
    const md = await maildirRate(msgs, path.join(dir, 'maildir-home'));
    const im = null; // await imapRate(msgs, path.join(dir, 'imap-home'));
    const row = (name, v, target) => `${name.padEnd(36)} ${v.rate.toFixed(0).padStart(7)} msg/s   ${mp.rate.toFixed(0).padStart(7)} msg/s   ${(v.rate / mp.rate).toFixed(2)}×   target ≥ ${target}×: ${verdict(v.rate / mp.rate >= target)}   peak RSS ${v.rss.toFixed(0)} MiB`;
    console.log(`\nintake throughput, ${msgs.length} messages (the fixtures without placeholders, ${COPIES} copies each)`);
    console.log(`${''.padEnd(36)} ${'Dossier'.padStart(13)}   ${'mailparser'.padStart(13)}   ratio`);
    console.log(row('maildir → journal → applied', md, TARGET_MAILDIR));
    if (im) console.log(row('IMAP (Dovecot) → journal → applied', im, TARGET_IMAP));
    else console.log('IMAP: skipped (Dovecot is not installed: apt-get install dovecot-imapd)');
    console.log(`peak RSS after mailparser alone: ${mp.rss.toFixed(0)} MiB`);
    const rate = (v) => `${v.rate.toFixed(0)} msg/s (peak RSS ${v.rss.toFixed(0)} MiB)`;
    const mpName = `mailparser simpleParser alone (${mp.ok}/${msgs.length} parsed)`;
    result('intake', `Intake throughput (${msgs.length} messages)`, [
      { measure: 'Maildir → journal → applied', value: rate(md), baselineName: mpName, baseline: rate(mp), ratio: `${(md.rate / mp.rate).toFixed(2)}×`, target: `≥ ${TARGET_MAILDIR}× mailparser`, pass: md.rate / mp.rate >= TARGET_MAILDIR },
      im
        ? { measure: 'IMAP (Dovecot) → journal → applied', value: rate(im), baselineName: mpName, baseline: rate(mp), ratio: `${(im.rate / mp.rate).toFixed(2)}×`, target: `≥ ${TARGET_IMAP}× mailparser`, pass: im.rate / mp.rate >= TARGET_IMAP }
        : { measure: 'IMAP (Dovecot) → journal → applied', value: 'skipped', baselineName: 'mailparser', baseline: rate(mp), ratio: '—', target: `≥ ${TARGET_IMAP}× mailparser`, pass: null, note: 'Dovecot not installed' },
    ], [`the fixtures without placeholders, ${COPIES} copies each; mailparser only parses, Dossier parses, journals, routes and applies`]);
  } finally {
    removeTemp(dir);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runIntakeBench();
