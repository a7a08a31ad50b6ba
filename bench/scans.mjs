// Benchmark: peak memory of building one package that carries 500 MB of scans (100 × 5 MB photos,
// generated here at run time: a JPEG header and random bytes, so they do not compress and are
// stored, not deflated, as real photos are). They are attached to the sample deal in a private
// Dossier home (embedded PostgreSQL, own blob store) and bank-sever's package is built by Dossier
// (dist/packages/build.js) in a child process whose peak RSS (VmHWM) is its own. Baseline: the same
// build, in the same kind of process, for a copy of the deal with no scans — what the process
// needs anyway; the difference is what 500 MB of scans cost. Target: peak RSS < 200 MB.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dist, dossierHome, openDossier, importDeal, mb, peakRss, ratio, removeTemp, result, tempDir, verdict } from './lib.mjs';

// 5 MB each, as a phone's photo is: a 10 MB file is refused at attach time now, being more than
// one email to bank-volga (10 MB, 7.3 MB once encoded) can carry.
const FILES = 100;
const FILE_MB = 5;
const TARGET = 200 * 1048576;

async function build(state) {
  const { cliActor } = await import(dist('app.js'));
  const { buildPackages } = await import(dist('packages/build.js'));
  const app = await openDossier(state.h);
  try {
    const t0 = performance.now();
    const built = await buildPackages(app, cliActor(process.env), state.ref, { recipients: ['bank-sever'], outDir: state.out });
    const ms = performance.now() - t0;
    const parts = built[0].parts;
    return { ms, rss: peakRss(), parts: parts.length, bytes: parts.reduce((n, p) => n + p.size, 0), files: built[0].manifest.files.length };
  } finally {
    await app.close();
  }
}

function child(state) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [fileURLToPath(import.meta.url), 'child', JSON.stringify(state)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`build child exited ${code}`))));
  });
}

async function main() {
  const dir = tempDir('dossier-bench-scans-');
  try {
    const h = dossierHome(dir);
    const withScans = importDeal(h);
    const without = importDeal(h);
    const scans = path.join(dir, 'scans');
    mkdirSync(scans);
    const files = [];
    for (let i = 1; i <= FILES; i++) {
      const f = path.join(scans, `паспорт-${String(i).padStart(2, '0')}.jpg`);
      writeFileSync(f, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]), randomBytes(FILE_MB * 1048576 - 11)]));
      files.push(f);
    }
    h.cli('attach', withScans, ...files, '--category', 'passport_scans');
    // The blob store has its own copy now: free the disk before the zips are written.
    rmSync(scans, { recursive: true, force: true });

    const base = await child({ h: { dir: h.dir, env: h.env }, ref: without, out: path.join(dir, 'out-none') });
    const big = await child({ h: { dir: h.dir, env: h.env }, ref: withScans, out: path.join(dir, 'out-scans') });
    const pass = big.rss < TARGET;
    const title = `one package with ${FILES * FILE_MB} MB of scans (${FILES} × ${FILE_MB} MB photos, stored), bank-sever's profile`;
    console.log(`\n${title}`);
    console.log(`${''.padEnd(30)} ${'500 MB scans'.padStart(14)} ${'no scans'.padStart(14)}   ratio`);
    console.log(`${'peak RSS (VmHWM)'.padEnd(30)} ${mb(big.rss).padStart(14)} ${mb(base.rss).padStart(14)}   ${ratio(big.rss, base.rss)}`);
    console.log(`${'wall time'.padEnd(30)} ${`${(big.ms / 1000).toFixed(1)} s`.padStart(14)} ${`${(base.ms / 1000).toFixed(1)} s`.padStart(14)}`);
    console.log(`(${big.files} files in ${big.parts} zip part(s), ${mb(big.bytes)} written, ${((big.bytes / 1048576) / (big.ms / 1000)).toFixed(0)} MB/s; split by the profile's 20 MB email limit)`);
    console.log(`peak RSS ${mb(big.rss)}   target < 200 MB: ${verdict(pass)}`);
    result('scans', `Package with ${FILES * FILE_MB} MB of scans`, [
      { measure: 'peak RSS of the build process', value: mb(big.rss), baselineName: 'same build, no scans', baseline: mb(base.rss), ratio: ratio(big.rss, base.rss), target: '< 200 MB', pass },
      { measure: 'wall time (info)', value: `${(big.ms / 1000).toFixed(1)} s`, baselineName: 'same build, no scans', baseline: `${(base.ms / 1000).toFixed(1)} s`, ratio: ratio(big.ms, base.ms), target: null, pass: null },
    ], [`${big.files} files in ${big.parts} zip parts (the profile's 20 MB email limit), ${mb(big.bytes)} written; scans generated at run time and removed after`]);
  } finally {
    removeTemp(dir);
  }
}

const [kind, arg] = process.argv.slice(2);
if (kind === 'child') {
  process.stdout.write(JSON.stringify(await build(JSON.parse(arg))) + '\n');
  process.exit(0);
} else await main();
