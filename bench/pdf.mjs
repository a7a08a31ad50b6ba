// Benchmark: filling a 100-field AcroForm PDF (made here at run time with pdf-lib: two A4 pages of
// 50 text fields) with Cyrillic values, by Dossier's fill (dist/documents/pdf.js: mapping, tag
// evaluation, glyph check, DejaVu Sans subset, appearances), beside pdf-lib alone doing the same
// filling with the same font, and pdftk (pdftk-java) filling the same fields from an XFDF file.
// Target: at least 5× faster than pdftk. pdftk is a separate program (a JVM), so its figure is a
// whole `pdftk … fill_form` run, which is what a service calling it would pay per document.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dist, ms, ratio, removeTemp, result, root, tempDir, timeInterleaved, timeMedian, verdict } from './lib.mjs';

const FIELDS = 100;
const WARMUP = 3;
const RUNS = 20;
const PDFTK_WARMUP = 1;
const PDFTK_RUNS = 7; // each run starts a JVM (~1 s): fewer runs keep the benchmark short

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null;
}

/** pdftk from Debian's pdftk-java, installed here only if it is missing and we may (root, apt). */
function ensurePdftk() {
  if (which('pdftk')) return { ok: true };
  if (process.getuid?.() !== 0 || !which('apt-get')) return { ok: false, why: 'pdftk is not installed and this user cannot install it (apt-get install pdftk-java)' };
  console.log('pdftk is missing: installing pdftk-java with apt-get (once; it stays installed)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'pdftk-java'], { env, encoding: 'utf8', timeout: 300_000 });
  let r = install();
  if (r.status !== 0) {
    // Stale package lists are the usual reason; refresh once and retry.
    spawnSync('apt-get', ['update'], { env, encoding: 'utf8', timeout: 120_000 });
    r = install();
  }
  if (r.status !== 0 || !which('pdftk')) return { ok: false, why: `apt-get install pdftk-java failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  return { ok: true };
}

async function makeForm() {
  const { PDFDocument, StandardFonts } = await import('@cantoo/pdf-lib');
  const doc = await PDFDocument.create();
  const helv = await doc.embedFont(StandardFonts.Helvetica);
  const form = doc.getForm();
  for (let p = 0; p < FIELDS / 50; p++) {
    const page = doc.addPage([595, 842]);
    for (let i = 0; i < 50; i++) {
      const n = p * 50 + i + 1;
      const x = i < 25 ? 40 : 310;
      const y = 800 - (i % 25) * 31;
      page.drawText(`Field ${n}`, { x, y: y + 14, size: 7, font: helv });
      const f = form.createTextField(`field_${String(n).padStart(3, '0')}`);
      f.addToPage(page, { x, y, width: 245, height: 13 });
    }
  }
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

const xmlEscape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

async function main() {
  const dir = tempDir('dossier-bench-pdf-');
  try {
    const formBytes = await makeForm();
    const formFile = path.join(dir, 'form-100.pdf');
    writeFileSync(formFile, formBytes);
    const names = Array.from({ length: FIELDS }, (_, i) => `field_${String(i + 1).padStart(3, '0')}`);
    const values = Object.fromEntries(names.map((n, i) => [`f${i + 1}`, `Смирнов Алексей Викторович, поле ${i + 1}, г. Москва`]));

    // Dossier's side: a text field of the schema per PDF field, mapped one to one.
    const { fillPdf } = await import(dist('documents/pdf.js'));
    const fields = new Map(names.map((_, i) => [`f${i + 1}`, { id: `f${i + 1}`, type: 'text', label: { ru: `Поле ${i + 1}`, en: `Field ${i + 1}` }, required: false, scope: 'base', overridable: false, retired: false, section: 'bench', line: i + 1 }]));
    const data = { values, fields, specials: { $ref: 'BENCH-1', $title: '', $today: '2026-01-01', $recipient_name: null, $recipient_key: null, $schema_version: 1 }, lang: 'ru' };
    const meta = { type: 'deal', schemas: [1], mode: 'form', flatten: false, fields: names.map((pdf, i) => ({ pdf, field: `f${i + 1}` })) };
    const dossier = () => fillPdf(formBytes, 'form-100.pdf', meta, data);

    // pdf-lib alone: the same values straight into the fields, the same font for the appearances.
    const { PDFDocument } = await import('@cantoo/pdf-lib');
    const fontkit = (await import('@cantoo/fontkit')).default;
    const fontBytes = readFileSync(path.join(root, 'templates/fonts/DejaVuSans.ttf'));
    const raw = async () => {
      const doc = await PDFDocument.load(formBytes);
      doc.registerFontkit(fontkit);
      const font = await doc.embedFont(fontBytes, { subset: true });
      const form = doc.getForm();
      names.forEach((n, i) => form.getTextField(n).setText(values[`f${i + 1}`]));
      form.updateFieldAppearances(font);
      return Buffer.from(await doc.save({ useObjectStreams: false }));
    };

    // Both must have filled every field with the same text.
    for (const [who, bytes] of [['Dossier', await dossier()], ['pdf-lib', await raw()]]) {
      const f = (await PDFDocument.load(bytes)).getForm();
      names.forEach((n, i) => {
        if (f.getTextField(n).getText() !== values[`f${i + 1}`]) throw new Error(`${who} did not fill ${n}`);
      });
    }

    // Taking turns, so that a change in the machine's load weighs on both alike.
    const { rd, rr } = await timeInterleaved({ rd: dossier, rr: raw }, { warmup: WARMUP, n: RUNS });

    let rp = null;
    const tk = ensurePdftk();
    if (tk.ok) {
      const xfdf = path.join(dir, 'values.xfdf');
      writeFileSync(xfdf, `<?xml version="1.0" encoding="UTF-8"?>\n<xfdf xmlns="http://ns.adobe.com/xfdf/" xml:space="preserve"><fields>${names.map((n, i) => `<field name="${n}"><value>${xmlEscape(values[`f${i + 1}`])}</value></field>`).join('')}</fields></xfdf>\n`);
      const out = path.join(dir, 'pdftk-out.pdf');
      const pdftk = () => execFileSync('pdftk', [formFile, 'fill_form', xfdf, 'output', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      pdftk();
      const check = (await PDFDocument.load(readFileSync(out))).getForm();
      if (check.getTextField(names[99]).getText() !== values.f100) throw new Error('pdftk did not fill the fields');
      rp = await timeMedian(pdftk, { warmup: PDFTK_WARMUP, n: PDFTK_RUNS });
    }

    const speedup = rp ? rp.median / rd.median : null;
    const pass = rp ? speedup >= 5 : null;
    const title = `${FIELDS}-field AcroForm fill (Cyrillic values, DejaVu Sans), median of ${RUNS} (pdftk: ${PDFTK_RUNS})`;
    console.log(`\n${title}`);
    console.log(`${''.padEnd(28)} ${'median'.padStart(10)} ${'min'.padStart(10)} ${'max'.padStart(10)}`);
    const rows = [['Dossier (dist/documents)', rd], ['pdf-lib alone', rr]];
    if (rp) rows.push([`pdftk ${pdftkVersion()}`, rp]);
    for (const [n, r] of rows) console.log(`${n.padEnd(28)} ${ms(r.median).padStart(10)} ${ms(r.min).padStart(10)} ${ms(r.max).padStart(10)}`);
    console.log(`Dossier / pdf-lib ${ratio(rd.median, rr.median)}`);
    if (rp) console.log(`pdftk / Dossier ${speedup.toFixed(1)}× faster   target ≥ 5× faster than pdftk: ${verdict(pass)}`);
    else console.log(`pdftk baseline skipped: ${tk.why}. Target ≥ 5× faster than pdftk: not measured`);
    result('pdf', `${FIELDS}-field PDF form fill`, [
      { measure: 'fill time, median', value: ms(rd.median), baselineName: 'pdf-lib alone', baseline: ms(rr.median), ratio: ratio(rd.median, rr.median), target: null, pass: null },
      rp
        ? { measure: 'fill time, median', value: ms(rd.median), baselineName: `pdftk ${pdftkVersion()} (whole run)`, baseline: ms(rp.median), ratio: ratio(rd.median, rp.median), target: '≥ 5× faster than pdftk (≤ 0.20×)', pass }
        : { measure: 'fill time, median', value: ms(rd.median), baselineName: 'pdftk', baseline: 'skipped', ratio: '—', target: '≥ 5× faster than pdftk', pass: null, note: tk.why },
    ], [`form generated at run time with pdf-lib (${FIELDS} text fields on 2 pages); pdftk figure is a whole process run, JVM start included`]);
  } finally {
    removeTemp(dir);
  }
}

function pdftkVersion() {
  const m = /pdftk\S* (?:port to java )?([\d.]+)/i.exec(spawnSync('pdftk', ['--version'], { encoding: 'utf8' }).stdout || '');
  return m ? m[1] : '';
}

if (!existsSync(dist('documents/pdf.js'))) throw new Error('dist/ is missing: run `npm run build` first');
await main();
