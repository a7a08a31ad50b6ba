// The mail parser alone beside mailparser (its speed is why Dossier keeps its own, docs/architecture.md
// "Mail parser"): every message of test/unit/parse-cases (with the bounce corpus) and the fixtures
// without placeholders, parsed by each in turn, several rounds; the median round per parser.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser } from 'mailparser';
import { dist, median, ratio, result, root, verdict } from './lib.mjs';

const ROUNDS = 7;
const TARGET = 1.0; // no slower than mailparser

function messages() {
  const dirs = [path.join(root, 'test/unit/parse-cases'), path.join(root, 'test/unit/parse-cases/bounces'), path.join(root, 'fixtures/mail')];
  const out = [];
  for (const dir of dirs) {
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.eml')).sort()) {
      const raw = readFileSync(path.join(dir, name));
      if (!raw.includes('{{')) out.push(raw); // fixtures with placeholders need a database to fill
    }
  }
  return out;
}

export async function runParseBench() {
  const { parseMessage } = await import(dist('inbound/parse.js'));
  const msgs = messages();
  const limits = { maxAttachmentBytes: 25 * 1048576, maxMessageBytes: 50 * 1048576, maxAttachments: 100 };
  const round = async (fn) => {
    const t = performance.now();
    for (const m of msgs) await fn(m);
    return performance.now() - t;
  };
  const ours = (m) => parseMessage(m, limits);
  const theirs = (m) => simpleParser(m, { skipImageLinks: true }).catch(() => null);
  await round(ours); // warm-up: JIT and lazy imports
  await round(theirs);
  const a = [];
  const b = [];
  for (let i = 0; i < ROUNDS; i++) {
    a.push(await round(ours));
    b.push(await round(theirs));
  }
  const perMsg = (x) => median(x) / msgs.length;
  const rate = (x) => msgs.length / (median(x) / 1000);
  const pass = rate(a) / rate(b) >= TARGET;
  console.log(`\nmail parsing, ${msgs.length} messages, median of ${ROUNDS} rounds`);
  console.log(`Dossier parseMessage   ${rate(a).toFixed(0).padStart(6)} msg/s  (${perMsg(a).toFixed(2)} ms a message)`);
  console.log(`mailparser simpleParser ${rate(b).toFixed(0).padStart(5)} msg/s  (${perMsg(b).toFixed(2)} ms a message)`);
  console.log(`ratio ${ratio(rate(a), rate(b))}   target ≥ ${TARGET}×: ${verdict(pass)}`);
  result('parse', `Mail parsing alone (${msgs.length} messages)`, [
    { measure: 'parseMessage', value: `${rate(a).toFixed(0)} msg/s`, baselineName: 'mailparser simpleParser (with its HTML-to-text)', baseline: `${rate(b).toFixed(0)} msg/s`, ratio: ratio(rate(a), rate(b)), target: `≥ ${TARGET}× mailparser`, pass },
  ], ['test/unit/parse-cases (with the bounce corpus) and the fixtures without placeholders; median of the rounds']);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runParseBench();
