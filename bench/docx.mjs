// Benchmark: one DOCX render of bank-sever's questionnaire (the largest shipped template, ~470 tags:
// fields with filters, table loops, conditional sections, Word checkboxes) with the sample deal's
// values, by Dossier's own document code (dist/documents/render.js), beside docxtemplater alone and
// Carbone rendering the same template with the same values. Target: no slower than Carbone.
//
// Fairness: the baselines get every tag's text ready-made (evaluated by Dossier before the clock
// starts), so they only fill; Dossier also parses each tag, applies its filters and sets the
// checkbox content controls. Carbone has its own tag syntax ({d.field}), so its copy of the template
// is made here at run time by rewriting the tags in word/document.xml — no Carbone template is
// committed. Rendering DOCX → DOCX needs no LibreOffice (Carbone uses it only to convert formats).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dist, dossierHome, onStop, openDossier, removeTemp, tempDir, importDeal, ms, ratio, result, timeInterleaved, verdict } from './lib.mjs';

const WARMUP = 5;
const RUNS = 30;

/** Every {tag} of document.xml with its nesting: the opening section tags enclosing it. */
function walkTags(xml) {
  const out = [];
  const stack = [];
  for (const m of xml.matchAll(/\{([^{}]*)\}/g)) {
    const raw = m[1];
    if (raw.startsWith('#') || raw.startsWith('^')) {
      const t = { kind: raw[0], text: raw.slice(1), at: m.index, parents: [...stack] };
      out.push(t);
      stack.push(t);
    } else if (raw.startsWith('/')) {
      out.push({ kind: '/', text: raw.slice(1), at: m.index, open: stack.pop() });
    } else out.push({ kind: '=', text: raw, at: m.index, parents: [...stack] });
  }
  if (stack.length) throw new Error(`unbalanced sections in the template: ${stack.map((s) => s.text).join(', ')}`);
  return out;
}

/**
 * The values of every tag, evaluated once by Dossier (so all three renderers show the same text):
 * for docxtemplater keyed by the tag's text, for Carbone under short generated names.
 */
async function prepare(xml, data) {
  const { evaluateTag } = await import(dist('documents/evaluate.js'));
  const { parseTag } = await import(dist('documents/tags.js'));
  const tags = walkTags(xml);
  const text = (raw, loop) => {
    const r = evaluateTag(parseTag(raw), data, loop, {});
    return r.kind === 'value' ? String(r.value) : '';
  };
  const dxt = {}; // docxtemplater: its parser looks the tag text up in the scope (a loop row, then the top)
  const carbone = {}; // Carbone: d.t<N> fields, d.k<N> conditions, d.L<N>[i].c<M> loop cells
  const names = new Map(); // tag object → its Carbone name
  let n = 0;
  for (const t of tags) {
    if (t.kind === '#' || t.kind === '^') {
      if (t.parents.some((p) => p.loop)) throw new Error(`a section inside a loop (${t.text}) is not handled by the Carbone rewrite`);
      const r = evaluateTag(parseTag(t.text), data, undefined, { section: true });
      const v = r.kind === 'value' ? r.value : false;
      if (Array.isArray(v)) {
        // A loop over a table field: each row's cells evaluated with the table's columns, as Dossier does.
        const def = data.fields.get(parseTag(t.text).name);
        t.loop = { rows: v, columns: new Map((def?.columns ?? []).map((c) => [c.id, c])), name: `L${n++}`, cells: new Map() };
        dxt[t.text] = v.map(() => ({}));
        carbone[t.loop.name] = v.map(() => ({}));
      } else {
        t.cond = `k${n++}`;
        dxt[t.text] = Boolean(v);
        carbone[t.cond] = Boolean(v);
      }
    } else if (t.kind === '=') {
      const loop = [...t.parents].reverse().find((p) => p.loop)?.loop;
      if (loop) {
        const cell = loop.cells.get(t.text) ?? `c${loop.cells.size}`;
        loop.cells.set(t.text, cell);
        const open = t.parents.find((p) => p.loop === loop);
        loop.rows.forEach((row, i) => {
          const s = text(t.text, { row, columns: loop.columns });
          dxt[open.text][i][t.text] = s;
          carbone[loop.name][i][cell] = s;
        });
        names.set(t, { loop: loop.name, cell });
      } else {
        const name = `t${n++}`;
        dxt[t.text] = text(t.text);
        carbone[name] = dxt[t.text];
        names.set(t, { name });
      }
    }
  }
  return { tags, names, dxt, carbone };
}

/**
 * The Carbone copy of document.xml: fields become {d.tN}; a loop's table row becomes Carbone's
 * two-row repetition ({d.LN[i].cM} and a copy with [i+1]); a conditional section becomes a
 * hideBegin/hideEnd block on a ready-made boolean.
 */
function carboneXml(xml, prep) {
  let out = '';
  let last = 0;
  const loopRows = []; // [start, end, loop] of each <w:tr> holding a loop, rewritten as a whole below
  for (const t of prep.tags) {
    const len = t.kind === '=' ? t.text.length + 2 : t.text.length + 3;
    out += xml.slice(last, t.at);
    last = t.at + len;
    if (t.kind === '=') {
      const nm = prep.names.get(t);
      out += nm.loop ? `{d.${nm.loop}[i].${nm.cell}}` : `{d.${nm.name}}`;
    } else if (t.kind === '#' || t.kind === '^') {
      if (t.loop) {
        loopRows.push(t.loop.name);
        out += `\u0001${t.loop.name}\u0001`; // where the loop's row starts: found again below
      } else out += `{d.${t.cond}:ifEQ(${t.kind === '#' ? 'false' : 'true'}):hideBegin}`;
    } else if (t.open.loop) out += `\u0002`;
    else out += `{d.${t.open.cond}:hideEnd}`;
  }
  out += xml.slice(last);
  // Each loop sits in one table row (its {#…} in the first cell, its {/…} in the last): repeat the row.
  for (const name of loopRows) {
    const mark = out.indexOf(`\u0001${name}\u0001`);
    const start = out.lastIndexOf('<w:tr>', mark);
    const end = out.indexOf('</w:tr>', mark) + '</w:tr>'.length;
    const row = out.slice(start, end).replace(`\u0001${name}\u0001`, '').replace('\u0002', '');
    if (row.includes('\u0002') || out.slice(mark, end).indexOf('\u0002') < 0) throw new Error(`loop ${name} does not sit in one table row`);
    out = out.slice(0, start) + row + row.replaceAll('[i]', '[i+1]') + out.slice(end);
  }
  return out;
}

const docText = (buf, PizZip) =>
  new PizZip(buf)
    .file('word/document.xml')
    .asText()
    .replace(/<w:tab\/>/g, '\t')
    .replace(/<\/w:p>/g, '\n')
    .replace(/<[^>]+>/g, '');

async function main() {
  const dir = tempDir('dossier-bench-docx-');
  let app;
  const close = onStop(async () => {
    if (app) await app.close(); // the last Dossier process out stops the embedded server
    app = null;
  });
  try {
    const h = dossierHome(dir);
    const ref = importDeal(h);
    const { renderData, renderWithData } = await import(dist('documents/render.js'));
    app = await openDossier(h);
    // The values are gathered from the database once, outside every clock: this measures rendering.
    const { data, type, version } = await renderData(app, ref, 'bank-sever');
    await close();

    const template = path.join(h.templates, 'bank-sever', 'questionnaire.docx');
    const PizZip = (await import('pizzip')).default;
    const Docxtemplater = (await import('docxtemplater')).default;
    const carbone = (await import('carbone')).default;
    const xml = new PizZip(readFileSync(template)).file('word/document.xml').asText();
    const prep = await prepare(xml, data);
    const tagCount = prep.tags.length;

    const carboneTemplate = path.join(dir, 'questionnaire-carbone.docx');
    const cz = new PizZip(readFileSync(template));
    cz.file('word/document.xml', carboneXml(xml, prep));
    writeFileSync(carboneTemplate, cz.generate({ type: 'nodebuffer', compression: 'DEFLATE' }));

    // Each side reads the template from disk on every render, as a package build does.
    const dossier = () => renderWithData(template, data, type, version).then((r) => r.bytes);
    const dxt = () => {
      const doc = new Docxtemplater(new PizZip(readFileSync(template)), {
        paragraphLoop: true,
        linebreaks: true,
        parser: (tag) => ({ get: (scope) => (scope && typeof scope === 'object' ? scope[tag] : undefined) }),
        nullGetter: () => '',
      });
      doc.render(prep.dxt);
      return doc.getZip().generate({ type: 'nodebuffer', compression: 'DEFLATE' });
    };
    const carb = () => new Promise((resolve, reject) => carbone.render(carboneTemplate, prep.carbone, {}, (err, out) => (err ? reject(err) : resolve(out))));

    // The three outputs must say the same thing, or the comparison means nothing. Dossier also
    // writes the ticks of Word checkboxes, which the baselines leave alone: compare without them.
    const plain = (b) => docText(b, PizZip).replace(/[☐☒]/g, '').replace(/\n+/g, '\n');
    const [a, b, c] = [plain(await dossier()), plain(dxt()), plain(await carb())];
    if (a !== b) throw new Error('docxtemplater alone produced different text from Dossier');
    if (a !== c) {
      // Carbone keeps the empty paragraphs that held {#…}/{/…}; docxtemplater's paragraphLoop drops them.
      const squeeze = (s) => s.replace(/\s+/g, ' ').trim();
      if (squeeze(a) !== squeeze(c)) throw new Error('Carbone produced different text from Dossier');
    }
    if (/\{[^}]*\}/.test(c)) throw new Error('Carbone left tags unfilled');

    const opts = { warmup: WARMUP, n: RUNS };
    // Taking turns: the machine may be shared, and its load should weigh on all three alike.
    const { rd, rx, rc } = await timeInterleaved({ rd: dossier, rx: dxt, rc: carb }, opts);
    const pass = rd.median <= rc.median;
    const title = `one DOCX render: bank-sever/questionnaire.docx, ${tagCount} tags, sample deal (median of ${RUNS} after ${WARMUP} warm-up)`;
    console.log(`\n${title}`);
    console.log(`${''.padEnd(28)} ${'median'.padStart(10)} ${'min'.padStart(10)} ${'max'.padStart(10)}`);
    for (const [n, r] of [['Dossier (dist/documents)', rd], ['docxtemplater alone', rx], [`Carbone ${carboneVersion()}`, rc]]) console.log(`${n.padEnd(28)} ${ms(r.median).padStart(10)} ${ms(r.min).padStart(10)} ${ms(r.max).padStart(10)}`);
    console.log(`Dossier / docxtemplater ${ratio(rd.median, rx.median)}   Dossier / Carbone ${ratio(rd.median, rc.median)}   target ≤ 1.00× Carbone: ${verdict(pass)}`);
    console.log('(the Carbone template is made at run time by rewriting the tags of document.xml to {d.…}; not committed)');
    result('docx', `One DOCX render (${tagCount}-tag questionnaire)`, [
      { measure: 'render time, median', value: ms(rd.median), baselineName: 'docxtemplater alone', baseline: ms(rx.median), ratio: ratio(rd.median, rx.median), target: null, pass: null },
      { measure: 'render time, median', value: ms(rd.median), baselineName: `Carbone ${carboneVersion()}`, baseline: ms(rc.median), ratio: ratio(rd.median, rc.median), target: '≤ 1.00× Carbone', pass },
    ], [`median of ${RUNS} after ${WARMUP} warm-up; baselines fill ready-made text, Dossier evaluates the tags; Carbone's template rewritten from the same DOCX at run time`]);
  } finally {
    await close();
    removeTemp(dir);
  }
}

function carboneVersion() {
  return JSON.parse(readFileSync(new URL('../node_modules/carbone/package.json', import.meta.url), 'utf8')).version;
}

await main();
