import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { templatesDir } from '../paths.js';
import { buildDocx } from './docx-source.js';
import { buildPdf } from './pdf-source.js';

// Rebuilds every template from its text source: X.docx.md → X.docx, X.pdf.src.yaml → X.pdf.
//   npm run templates:build [-- <folder>]

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) yield* walk(p);
    else yield p;
  }
}

const root = process.argv[2] ? path.resolve(process.argv[2]) : templatesDir;
let built = 0;
for (const file of walk(root)) {
  if (file.endsWith('.docx.md')) {
    const out = file.slice(0, -'.md'.length);
    const title = /^# (.+)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? path.basename(out);
    writeFileSync(out, buildDocx(readFileSync(file, 'utf8'), { title }));
    built++;
    console.log(`built ${path.relative(process.cwd(), out)}`);
  } else if (file.endsWith('.pdf.src.yaml')) {
    const out = file.slice(0, -'.src.yaml'.length);
    writeFileSync(out, await buildPdf(readFileSync(file, 'utf8')));
    built++;
    console.log(`built ${path.relative(process.cwd(), out)}`);
  }
}
console.log(`${built} template(s) built from their sources.`);
