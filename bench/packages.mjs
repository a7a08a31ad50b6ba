// Benchmark: all packages of a 15-recipient deal (2 DOCX + 1 PDF each, 50 MB of scans), built by
// Dossier, beside the same work done by the raw libraries alone (docxtemplater, pdf-lib, archiver)
// on the same templates, values and scans. Each side runs in its own process so that peak RSS is
// its own. Run with `npm run bench` (after `npm run build`).
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync, cpSync, rmSync, mkdtempSync, readdirSync, createReadStream, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(root, 'dist', p);
const RECIPIENTS = 15;
const SCAN_MB = 50;

function peakSampler() {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  return () => (clearInterval(t), Math.max(peak, process.memoryUsage().rss));
}

async function setup(dir) {
  const home = path.join(dir, 'home');
  const templates = path.join(dir, 'templates');
  cpSync(path.join(root, 'templates'), templates, { recursive: true });
  const bin = path.join(root, 'bin', 'dossier');
  const env = { ...process.env, DOSSIER_HOME: home, DOSSIER_TEMPLATES__DIR: templates, DOSSIER_USER: 'bench' };
  delete env.DATABASE_URL;
  const cli = (...a) => execFileSync(process.execPath, [bin, ...a], { env, encoding: 'utf8' }).trim();
  const ref = JSON.parse(cli('record', 'import', 'deal', path.join(root, 'fixtures/records/deal.json'), '--json'))[0].ref;
  // 12 more banks, each with bank-sever's profile plus the loan agreement: 2 DOCX + 1 PDF.
  const rows = ['key;kind;name;emails'];
  for (let i = 1; i <= RECIPIENTS - 3; i++) rows.push(`bank-bench-${String(i).padStart(2, '0')};bank;Банк №${i};credit${i}@bench-bank.example`);
  writeFileSync(path.join(dir, 'banks.csv'), rows.join('\n') + '\n');
  cli('party', 'import', path.join(dir, 'banks.csv'));
  const profile = (folder) =>
    `title: Пакет\ntype: deal\ndocuments:\n  - { template: ../bank-sever/questionnaire.docx, name: "Анкета {{$ref}}.docx" }\n  - { template: ../internal/loan-agreement.docx, name: "Договор {{$ref}}.docx" }\n  - { template: ../bank-sever/consent.pdf, name: "Согласие {{$ref}}.pdf" }\nattachments:\n  - { category: passport_scans, folder: Сканы }\narchive: "{{$ref}} ${folder}"\nemail: { subject: "Заявка {{$ref}}", text: ../_email/bank.txt.hbs }\nmax_email_bytes: 104857600\n`;
  for (const key of ['bank-sever', 'bank-volga', 'bank-meridian', ...rows.slice(1).map((r) => r.split(';')[0])]) {
    mkdirSync(path.join(templates, key), { recursive: true });
    writeFileSync(path.join(templates, key, 'package.yaml'), profile(key));
    if (key.startsWith('bank-bench')) cli('record', 'link', ref, key, '--role', 'recipient');
  }
  // 50 MB of scans: ten 5 MB photos (JPEG header + incompressible bytes: stored, as real photos are).
  const scans = path.join(dir, 'scans');
  mkdirSync(scans);
  const files = [];
  for (let i = 1; i <= 10; i++) {
    const f = path.join(scans, `скан-${i}.jpg`);
    writeFileSync(f, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]), randomBytes((SCAN_MB / 10) * 1048576 - 11)]));
    files.push(f);
  }
  cli('attach', ref, ...files, '--category', 'passport_scans');
  return { home, templates, env, ref, scans: files };
}

async function runDossier(s) {
  Object.assign(process.env, s.env);
  const { openApp, cliActor } = await import(dist('app.js'));
  const { buildPackages } = await import(dist('packages/build.js'));
  const app = await openApp({ env: process.env });
  try {
    // Warm-up outside the measurement: module loading, the first schema read.
    const { renderData } = await import(dist('documents/render.js'));
    await renderData(app, s.ref, 'bank-sever');
    const done = peakSampler();
    const t0 = performance.now();
    const built = await buildPackages(app, cliActor(process.env), s.ref, { recipients: 'all', outDir: path.join(path.dirname(s.home), 'out-dossier') });
    const ms = performance.now() - t0;
    return { ms, rss: done(), packages: built.length, bytes: built.reduce((n, b) => n + b.parts.reduce((m, p) => m + p.size, 0), 0) };
  } finally {
    await app.close();
  }
}

async function runRaw(s) {
  // The same work with the libraries alone: values are prepared before the clock starts (by Dossier,
  // so both sides fill the same text); then docxtemplater, pdf-lib and archiver do the filling and zipping.
  Object.assign(process.env, s.env);
  const { openApp } = await import(dist('app.js'));
  const { renderData } = await import(dist('documents/render.js'));
  const { evaluateTag } = await import(dist('documents/evaluate.js'));
  const { parseTag } = await import(dist('documents/tags.js'));
  const Docxtemplater = (await import('docxtemplater')).default;
  const PizZip = (await import('pizzip')).default;
  const { PDFDocument } = await import('@cantoo/pdf-lib');
  const fontkit = (await import('@cantoo/fontkit')).default;
  const { ZipArchive } = await import('archiver');
  const YAML = (await import('yaml')).default;
  const app = await openApp({ env: process.env });
  const keys = readdirSync(s.templates).filter((k) => k.startsWith('bank-'));
  const prepared = [];
  for (const key of keys) {
    const { data } = await renderData(app, s.ref, key);
    const text = (raw) => {
      const r = evaluateTag(parseTag(raw), data, undefined, {});
      return r.kind === 'value' ? r.value : '';
    };
    prepared.push({ key, data, text });
  }
  await app.close();
  const q = readFileSync(path.join(s.templates, 'bank-sever/questionnaire.docx'));
  const agreement = readFileSync(path.join(s.templates, 'internal/loan-agreement.docx'));
  const consent = readFileSync(path.join(s.templates, 'bank-sever/consent.pdf'));
  const mapping = YAML.parse(readFileSync(path.join(s.templates, 'bank-sever/consent.pdf.yaml'), 'utf8'));
  const font = readFileSync(path.join(s.templates, 'fonts/DejaVuSans.ttf'));
  const out = path.join(path.dirname(s.home), 'out-raw');
  mkdirSync(out, { recursive: true });
  const done = peakSampler();
  const t0 = performance.now();
  for (const p of prepared) {
    const docx = (bytes) => {
      const doc = new Docxtemplater(new PizZip(bytes), { paragraphLoop: true, linebreaks: true, parser: (tag) => ({ get: (scope) => (scope && typeof scope === 'object' && tag in scope ? scope[tag] : p.text(tag)) }), nullGetter: () => '' });
      doc.render({});
      return doc.getZip().generate({ type: 'nodebuffer', compression: 'DEFLATE' });
    };
    const d1 = docx(q);
    const d2 = docx(agreement);
    const pdf = await PDFDocument.load(consent);
    pdf.registerFontkit(fontkit);
    const f = await pdf.embedFont(font, { subset: true });
    const form = pdf.getForm();
    for (const m of mapping.fields) {
      const field = form.getField(m.pdf);
      if (m.value && 'setText' in field) field.setText(m.value.replace(/\{([^{}]*)\}/g, (_, t) => p.text(t)));
      else if (m.field && 'check' in field) p.data.values[m.field] === (m.is ?? true) ? field.check() : field.uncheck();
    }
    form.updateFieldAppearances(f);
    const pdfBytes = Buffer.from(await pdf.save({ useObjectStreams: false }));
    await new Promise((resolve, reject) => {
      const zip = new ZipArchive({ zlib: { level: 6 } });
      const ws = createWriteStream(path.join(out, `${p.key}.zip`));
      ws.on('close', resolve);
      zip.on('error', reject);
      zip.pipe(ws);
      zip.append(d1, { name: 'Анкета.docx' });
      zip.append(d2, { name: 'Договор.docx' });
      zip.append(pdfBytes, { name: 'Согласие.pdf', store: true });
      for (const sc of s.scans) zip.append(createReadStream(sc), { name: `Сканы/${path.basename(sc)}`, store: true });
      zip.finalize();
    });
  }
  const ms = performance.now() - t0;
  const bytes = readdirSync(out).reduce((n, f) => n + statSync(path.join(out, f)).size, 0);
  return { ms, rss: done(), packages: prepared.length, bytes };
}

function child(kind, state) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [fileURLToPath(import.meta.url), kind, JSON.stringify(state)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`${kind} exited ${code}`))));
  });
}

const [kind, arg] = process.argv.slice(2);
if (kind === 'dossier' || kind === 'raw') {
  const r = kind === 'dossier' ? await runDossier(JSON.parse(arg)) : await runRaw(JSON.parse(arg));
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(0);
} else {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dossier-bench-'));
  try {
    const state = await setup(dir);
    const raw = await child('raw', state);
    const dossier = await child('dossier', state);
    const mb = (n) => (n / 1048576).toFixed(0);
    const line = (name, d, b, unit, fmt) => `${name.padEnd(44)} ${fmt(d).padStart(9)} ${unit}   ${fmt(b).padStart(9)} ${unit}   ${(d / b).toFixed(2)}×`;
    console.log(`packages of a ${RECIPIENTS}-recipient deal (2 DOCX + 1 PDF each, ${SCAN_MB} MB of scans)`);
    console.log(`${''.padEnd(44)} ${'Dossier'.padStart(12)}   ${'raw libs'.padStart(12)}   ratio`);
    console.log(line('wall time', dossier.ms, raw.ms, 'ms', (x) => x.toFixed(0)));
    console.log(line('peak RSS', dossier.rss, raw.rss, 'MB', mb));
    console.log(`(${dossier.packages} packages, ${mb(dossier.bytes)} MB written by Dossier; ${raw.packages} and ${mb(raw.bytes)} MB by the raw libraries)`);
    console.log(JSON.stringify({ bench: 'packages', recipients: RECIPIENTS, scanMB: SCAN_MB, dossier, raw }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
