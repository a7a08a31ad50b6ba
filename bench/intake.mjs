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

/** `copies` of each fixture, under `tag`: a distinct Message-ID (and so distinct bytes) per copy — the journal would drop exact duplicates. */
function messages(copies = COPIES, tag = 'bench') {
  const dir = path.join(root, 'fixtures', 'mail');
  const list = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()) {
    const raw = readFileSync(dir + '/' + f, 'latin1');
    if (raw.includes('{{')) continue;
    for (let i = 0; i < copies; i++) {
      list.push(Buffer.from(raw.replace(/^Message-ID:\s*<([^>]*)>/im, (_m, id) => `Message-ID: <${tag}${i}.${id}>`), 'latin1'));
    }
  }
  return list;
}

// Both sides are measured warm: before its timed run each takes one untimed pass over one copy of
// each fixture (mailparser: a parse; Dossier: an intake pass through the same app). A worker runs
// for hours; what a first pass pays once (loading mailauth and its dependencies, the JIT) is not
// its throughput, and mailparser's own timed runs are no longer cold either.
const WARM_UP = messages(1, 'warm');

/** The process's peak resident set so far, in MiB (the phases run one after another in this process). */
const peakRss = () => process.resourceUsage().maxRSS / 1024;

async function mailparserRate(msgs) {
  const { simpleParser } = await import('mailparser');
  for (const m of WARM_UP) await simpleParser(m).catch(() => {});
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
    WARM_UP.forEach((m, i) => writeFileSync(path.join(dir, 'new', `${Date.now()}.${i}.warm`), m));
    await pollMaildir(app);
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
    const append = async (list) => {
      const c = dc.client('intake');
      await c.connect();
      for (const m of list) await c.append('INBOX', m);
      await c.logout();
    };
    const app = await dossierApp(home, {
      DOSSIER_INTAKE__PER_SENDER_PER_HOUR: '100000',
      DOSSIER_INTAKE__MAILBOXES: `[{name: bench, host: 127.0.0.1, port: ${dc.port}, security: none, user: intake, password: secret}]`,
    });
    try {
      await seed(app);
      const { pollImap } = await import(dist('inbound/imap.js'));
      await append(WARM_UP);
      await pollImap(app, app.config.intake.mailboxes[0]);
      await append(msgs);
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
    // mailparser is measured before and after each of our phases and the two rates averaged: on a
    // shared machine the load moves between phases, and one baseline taken first skewed the ratio
    // by up to 2× in either direction.
    const mp0 = await mailparserRate(msgs);
    const md = await maildirRate(msgs, path.join(dir, 'maildir-home'));
    const mp1 = await mailparserRate(msgs);
    const im = await imapRate(msgs, path.join(dir, 'imap-home'));
    const mp2 = im ? await mailparserRate(msgs) : mp1;
    // The process's peak RSS only grows: the baseline's own peak is its first run's.
    const mean = (a, b) => ({ rate: (a.rate + b.rate) / 2, ok: a.ok, rss: mp0.rss });
    const mpMd = mean(mp0, mp1);
    const mpIm = mean(mp1, mp2);
    const mp = mean(mpMd, mpIm);
    const row = (name, v, mp, target) => `${name.padEnd(36)} ${v.rate.toFixed(0).padStart(7)} msg/s   ${mp.rate.toFixed(0).padStart(7)} msg/s   ${(v.rate / mp.rate).toFixed(2)}×   target ≥ ${target}×: ${verdict(v.rate / mp.rate >= target)}   peak RSS ${v.rss.toFixed(0)} MiB`;
    console.log(`\nintake throughput, ${msgs.length} messages (the fixtures without placeholders, ${COPIES} copies each; both sides after a warm-up pass)`);
    console.log(`${''.padEnd(36)} ${'Dossier'.padStart(13)}   ${'mailparser'.padStart(13)}   ratio`);
    console.log(row('maildir → journal → applied', md, mpMd, TARGET_MAILDIR));
    if (im) console.log(row('IMAP (Dovecot) → journal → applied', im, mpIm, TARGET_IMAP));
    else console.log('IMAP: skipped (Dovecot is not installed: apt-get install dovecot-imapd)');
    console.log(`peak RSS after mailparser alone (its first run): ${mp0.rss.toFixed(0)} MiB`);
    const rate = (v) => `${v.rate.toFixed(0)} msg/s (peak RSS ${v.rss.toFixed(0)} MiB)`;
    const mpName = `mailparser simpleParser alone (${mp.ok}/${msgs.length} parsed; mean of the runs before and after)`;
    result('intake', `Intake throughput (${msgs.length} messages)`, [
      { measure: 'Maildir → journal → applied', value: rate(md), baselineName: mpName, baseline: rate(mpMd), ratio: `${(md.rate / mpMd.rate).toFixed(2)}×`, target: `≥ ${TARGET_MAILDIR}× mailparser`, pass: md.rate / mpMd.rate >= TARGET_MAILDIR },
      im
        ? { measure: 'IMAP (Dovecot) → journal → applied', value: rate(im), baselineName: mpName, baseline: rate(mpIm), ratio: `${(im.rate / mpIm.rate).toFixed(2)}×`, target: `≥ ${TARGET_IMAP}× mailparser`, pass: im.rate / mpIm.rate >= TARGET_IMAP }
        : { measure: 'IMAP (Dovecot) → journal → applied', value: 'skipped', baselineName: 'mailparser', baseline: rate(mp), ratio: '—', target: `≥ ${TARGET_IMAP}× mailparser`, pass: null, note: 'Dovecot not installed' },
    ], [`the fixtures without placeholders, ${COPIES} copies each, both sides after an untimed warm-up pass over one copy; mailparser only parses, Dossier parses, journals, routes and applies`]);
  } finally {
    removeTemp(dir);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runIntakeBench();
