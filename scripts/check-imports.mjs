#!/usr/bin/env node
// CI check (.ci/run, before npm test): no import cycles among src/ modules, and the layering rule
// that the domain never imports the worker (nothing under src/outbound, src/packages, src/records,
// src/schemas, src/documents imports src/jobs). A tiny checker rather than madge/dpdm: ESM imports
// with relative ".js" specifiers are all it has to read. `import type` and `export type` lines are
// left out: they vanish at compile time and cannot make a cycle at run time. Exit 1 with each cycle
// (and each forbidden import) printed.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ? path.resolve(process.argv[2]) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const files = [];
(function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push(p);
  }
})(src);

// Static imports and re-exports (type-only ones skipped), and dynamic import('…') of a literal.
const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
const rel = (f) => path.relative(src, f);
const graph = new Map();
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const deps = new Set();
  const add = (spec) => {
    if (!spec.startsWith('.')) return;
    const target = path.resolve(path.dirname(f), spec).replace(/\.js$/, '.ts');
    if (files.includes(target)) deps.add(target);
  };
  for (const m of text.matchAll(IMPORT)) if (!m[2] && !/^\s*(import|export)\s+type\b/.test(m[0])) add(m[3]);
  for (const m of text.matchAll(DYNAMIC)) add(m[1]);
  graph.set(f, deps);
}

const problems = [];
// Tarjan's strongly connected components: every component of more than one module is a cycle.
let index = 0;
const idx = new Map(), low = new Map(), stack = [], on = new Set();
function connect(v) {
  idx.set(v, index); low.set(v, index); index++;
  stack.push(v); on.add(v);
  for (const w of graph.get(v)) {
    if (!idx.has(w)) { connect(w); low.set(v, Math.min(low.get(v), low.get(w))); }
    else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const comp = [];
    let w;
    do { w = stack.pop(); on.delete(w); comp.push(w); } while (w !== v);
    if (comp.length > 1 || graph.get(v).has(v)) problems.push(`import cycle among: ${comp.map(rel).sort().join(', ')}`);
  }
}
for (const f of files) if (!idx.has(f)) connect(f);

const DOMAIN = ['outbound', 'packages', 'records', 'schemas', 'documents'];
for (const [f, deps] of graph) {
  if (!DOMAIN.includes(rel(f).split(path.sep)[0])) continue;
  for (const d of deps) if (rel(d).split(path.sep)[0] === 'jobs') problems.push(`${rel(f)} imports ${rel(d)}: the domain must not import the worker (queue jobs through src/db/queues.ts)`);
}

if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`imports: ${files.length} modules, no cycles, the domain does not import src/jobs`);
