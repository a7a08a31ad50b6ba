// Portal uploads under load (issue 18): 50 clients each send a 20 MB file at once through a lawyer's
// link to `dossier serve` (a process of its own: multipart parsing, the type sniff, the blob store,
// the journal and the attachment rows, CSRF and rate limit on), while the server's resident memory is
// sampled every 20 ms from /proc. Baseline: the same request bytes sent to a bare node:http server
// that streams each request body to a file. Both servers get exactly the same 50 bodies (each file
// differs in its first bytes, so the content-addressed store keeps 50 blobs, not one). The figure is
// the peak RSS of each server process above its RSS when idle; "flat" means far below the 1,000 MB
// that passed through (nothing held whole in memory). Target: the portal's growth ≤ 150 MB.
// BENCH_SERVER_STDERR=1 shows the server's log; UPLOAD_CLIENTS and UPLOAD_MB change the load.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { dossierHome, importDeal, mb, onStop, ratio, result, root, tempDir, verdict } from './lib.mjs';

const CLIENTS = Number(process.env.UPLOAD_CLIENTS ?? 50);
const SIZE = Number(process.env.UPLOAD_MB ?? 20) * 1048576;
const TARGET_GROWTH = 150 * 1048576;

const dir = tempDir('dossier-bench-upload-');
const h = dossierHome(dir);
const file = path.join(dir, 'scan.bin');
{
  // One 20 MB file on disk (a PDF header, then random bytes); each upload puts its own 16 bytes first.
  const body = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(SIZE - 9)]);
  await writeFile(file, body);
}

const rssOf = (pid) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
};

/** Samples a process's RSS until stopped; returns the peak. */
function sampler(pid) {
  let peak = rssOf(pid);
  const t = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  return { stop: () => (clearInterval(t), peak) };
}

const BOUNDARY = '----dossierbench7f3a';
const head = (i) => Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="scan-${i}.pdf"\r\nContent-Type: application/pdf\r\n\r\n`), Buffer.from(`%PDF-1.7 bench ${String(i).padStart(4, '0')}\n`)]);
const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);

/** One upload: the multipart body streamed from disk (the client holds no file in memory). */
function upload(url, i, headers) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const first = head(i);
    const length = first.length + SIZE + tail.length;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', headers: { ...headers, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.write(first);
    const rs = createReadStream(file);
    rs.on('data', (c) => req.write(c) || (rs.pause(), req.once('drain', () => rs.resume())));
    rs.on('end', () => req.end(tail));
    rs.on('error', reject);
  });
}

async function runAll(url, headers) {
  const t0 = performance.now();
  const codes = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => upload(url, i, headers)));
  return { seconds: (performance.now() - t0) / 1000, codes };
}

// ── Dossier's portal ────────────────────────────────────────────────────────────────────────────
/**
 * A server under test started as `child`: its address once it prints "listening on <url> ", and a
 * stop (SIGTERM, then wait) that also runs if the benchmark is stopped.
 */
function serving(child) {
  const stop = onStop(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
  });
  const address = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+?) /.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('close', (code) => reject(new Error(`the server exited ${code}: ${out}`)));
  });
  return { address, stop };
}

const ref = importDeal(h);
const party = JSON.parse(h.cli('record', 'show', ref, '--json')).parties.find((p) => p.role === 'recipient').key;
const env = { ...h.env, DOSSIER_PORTAL__RATE_LIMIT_PER_MINUTE: '100000', DOSSIER_PORTAL__MAX_UPLOAD_BYTES: String(SIZE * 2) };
const server = spawn(process.execPath, [path.join(root, 'bin', 'dossier'), 'serve', '--port', '0'], { env, cwd: dir, stdio: ['ignore', 'pipe', process.env.BENCH_SERVER_STDERR ? 'inherit' : 'ignore'] });
const { address: portalAddress, stop: stopServer } = serving(server);
let portal;
try {
  const address = await portalAddress;
  const link = new URL(JSON.parse(h.cli('share', 'link', ref, '--party', party, '--json')).url);
  const pageUrl = `${address}${link.pathname}`;
  // The form as a browser gets it: the CSRF cookie and the token in the upload form's action.
  const page = await fetch(pageUrl);
  const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const action = /action="([^"]*\/upload[^"]*)"/.exec(await page.text())[1].replace(/&amp;/g, '&');
  await new Promise((r) => setTimeout(r, 500));
  const idle = rssOf(server.pid);
  const s = sampler(server.pid);
  const r = await runAll(`${address}${action}`, { cookie });
  const peak = s.stop();
  portal = { idle, peak, ...r };
} finally {
  await stopServer();
}
const stored = (() => {
  // How many of the uploads became attachments (each a distinct file).
  const show = JSON.parse(h.cli('record', 'show', ref, '--json'));
  return show.attachments.filter((a) => /^scan-\d+\.pdf$/.test(a.file_name ?? a.fileName ?? a.file)).length;
})();

// ── Baseline: a bare node:http server streaming each body to disk ──────────────────────────────
const bareDir = path.join(dir, 'bare');
const bareCode = `
const http = require('node:http'); const fs = require('node:fs'); const { pipeline } = require('node:stream');
fs.mkdirSync(${JSON.stringify(bareDir)}, { recursive: true }); let n = 0;
const s = http.createServer((req, res) => pipeline(req, fs.createWriteStream(${JSON.stringify(bareDir)} + '/' + (n++)), (err) => { res.statusCode = err ? 500 : 303; res.end(); }));
s.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + s.address().port + ' '));
process.on('SIGTERM', () => s.close(() => process.exit(0)));`;
const bare = spawn(process.execPath, ['-e', bareCode], { stdio: ['ignore', 'pipe', 'inherit'] });
const { address: bareAddress, stop: stopBare } = serving(bare);
let baseline;
try {
  const address = await bareAddress;
  await new Promise((r) => setTimeout(r, 300));
  const idle = rssOf(bare.pid);
  const s = sampler(bare.pid);
  const r = await runAll(`${address}/upload`, {});
  baseline = { idle, peak: s.stop(), ...r };
} finally {
  await stopBare();
  await rm(bareDir, { recursive: true, force: true });
}

const total = CLIENTS * SIZE;
const growth = portal.peak - portal.idle;
const bareGrowth = baseline.peak - baseline.idle;
const ok = portal.codes.every((c) => c === 303) && stored === CLIENTS;
console.log(`${CLIENTS} × ${mb(SIZE)} at once (${mb(total)} in all):`);
console.log(`  portal   idle ${mb(portal.idle)}, peak ${mb(portal.peak)} (+${mb(growth)}), ${portal.seconds.toFixed(1)} s, ${(total / 1048576 / portal.seconds).toFixed(0)} MB/s; answers ${[...new Set(portal.codes)].join(', ')}; attachments made: ${stored}`);
console.log(`  bare     idle ${mb(baseline.idle)}, peak ${mb(baseline.peak)} (+${mb(bareGrowth)}), ${baseline.seconds.toFixed(1)} s, ${(total / 1048576 / baseline.seconds).toFixed(0)} MB/s`);
console.log(`  peak RSS ratio (portal ÷ bare): ${ratio(portal.peak, baseline.peak)}; growth while uploading ${mb(growth)} vs ${mb(bareGrowth)}`);
result(
  'upload',
  `Portal uploads: ${CLIENTS} × ${mb(SIZE)} at once`,
  [
    { measure: 'server peak RSS', value: mb(portal.peak), baselineName: 'bare node:http to disk', baseline: mb(baseline.peak), ratio: ratio(portal.peak, baseline.peak), target: null, pass: null },
    { measure: 'server RSS growth while uploading', value: mb(growth), baselineName: 'bare node:http to disk', baseline: mb(bareGrowth), ratio: ratio(Math.max(growth, 1), Math.max(bareGrowth, 1)), target: `≤ ${mb(TARGET_GROWTH)} (of ${mb(total)} uploaded)`, pass: ok && growth <= TARGET_GROWTH },
    { measure: 'wall time, all uploads', value: `${portal.seconds.toFixed(1)} s`, baselineName: 'bare node:http to disk', baseline: `${baseline.seconds.toFixed(1)} s`, ratio: ratio(portal.seconds, baseline.seconds), target: null, pass: null },
  ],
  [`every upload answered 303 and became an attachment: ${verdict(ok)} (${stored} of ${CLIENTS}); RSS sampled every 20 ms from /proc/<pid>/status of each server process`],
);
