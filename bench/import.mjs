// Benchmark: `dossier record import deal` of an XLSX file of 1,000 deals, each row the sample deal's
// base values (its export, ~300 filled of 365 columns), in a private Dossier home (embedded PostgreSQL).
// Timed as a person runs it: the whole CLI process, reading the workbook, checking every cell, writing.
// Baselines, in the same home and run:
//   - plain INSERT: the same 1,000 records and their values written by multi-row INSERT … VALUES
//     statements (1,000 rows each) in one transaction: the floor for writing these rows at all;
//   - row at a time: what the import did before (per record a counter update and insert, per value a
//     SELECT … FOR UPDATE, an INSERT and an audit event), timed for 20 records and scaled to 1,000.
// Target: ≥ 20× faster than row at a time (the issue: 24 minutes for 1,000 × 365).
import path from 'node:path';
import ExcelJS from 'exceljs';
import { dossierHome, importDeal, openDossier, ratio, removeTemp, result, tempDir, verdict } from './lib.mjs';

const ROWS = 1000;
const SAMPLE = 20; // records timed the old way
const s = (x) => (x >= 100 ? `${x.toFixed(0)} s` : `${x.toFixed(1)} s`);

async function main() {
  const dir = tempDir('dossier-bench-import-');
  let app;
  try {
    const h = dossierHome(dir);
    const sample = importDeal(h);
    const one = path.join(dir, 'one.xlsx');
    h.cli('export', 'deal', '--format', 'xlsx', '-o', one);
    const src = new ExcelJS.Workbook();
    await src.xlsx.readFile(one);
    const ws = src.worksheets[0];
    const header = ws.getRow(1).values.slice(1);
    const row = ws.getRow(2).values.slice(1);
    const filled = row.slice(4).filter((v) => v !== null && v !== undefined && v !== '').length;
    const wb = new ExcelJS.Workbook();
    const out = wb.addWorksheet('deal');
    out.addRow(header);
    for (let i = 1; i <= ROWS; i++) out.addRow([null, `Сделка ${i}`, ...row.slice(2)]);
    const big = path.join(dir, 'deals-1000.xlsx');
    await wb.xlsx.writeFile(big);

    const t0 = performance.now();
    const imported = JSON.parse(h.cli('record', 'import', 'deal', big, '--json'));
    const dossierS = (performance.now() - t0) / 1000;
    if (imported.length !== ROWS) throw new Error(`imported ${imported.length} records, expected ${ROWS}`);
    const values = imported.reduce((n, r) => n + r.values, 0);

    app = await openDossier(h);
    const db = app.db;
    const cells = (await db.query("SELECT fv.field_id, fv.value FROM field_values fv JOIN records r ON r.id = fv.record_id WHERE r.ref = $1 AND fv.party_id IS NULL", [sample])).rows;
    const year = new Date().getFullYear();

    // Baseline 1: plain multi-row INSERT of the same rows.
    const c = await db.connect();
    let plainS;
    try {
      const t1 = performance.now();
      await c.query('BEGIN');
      const ids = [];
      for (let i = 0; i < ROWS; i += 1000) {
        const n = Math.min(1000, ROWS - i);
        const params = [];
        const tuples = [];
        for (let k = 0; k < n; k++) {
          const seq = 500000 + i + k;
          params.push(`DL-${year}-${seq}`, seq, `Сделка ${i + k + 1}`);
          const b = k * 3;
          tuples.push(`('deal', $${b + 1}, ${year}, $${b + 2}, $${b + 3}, 'new', 2, 'bench')`);
        }
        const r = await c.query(`INSERT INTO records (type, ref, year, seq, title, status, schema_version, created_by) VALUES ${tuples.join(', ')} RETURNING id`, params);
        ids.push(...r.rows.map((x) => x.id));
      }
      const all = ids.flatMap((id) => cells.map((cell) => [id, cell.field_id, JSON.stringify(cell.value)]));
      for (let i = 0; i < all.length; i += 1000) {
        const part = all.slice(i, i + 1000);
        const params = part.flat();
        const tuples = part.map((_, k) => `($${k * 3 + 1}, $${k * 3 + 2}, $${k * 3 + 3}::jsonb, 2, 'bench', 'import')`);
        await c.query(`INSERT INTO field_values (record_id, field_id, value, schema_version, set_by, source) VALUES ${tuples.join(', ')}`, params);
      }
      await c.query('COMMIT');
      plainS = (performance.now() - t1) / 1000;
    } finally {
      c.release();
    }

    // Baseline 2: the former way, row at a time, for SAMPLE records (rolled back), scaled.
    const d = await db.connect();
    let oldS;
    try {
      const t2 = performance.now();
      await d.query('BEGIN');
      for (let i = 0; i < SAMPLE; i++) {
        const seq = (await d.query("INSERT INTO ref_counters (prefix, year, last) VALUES ('DL', $1, 1) ON CONFLICT (prefix, year) DO UPDATE SET last = ref_counters.last + 1 RETURNING last", [year])).rows[0].last;
        const id = (await d.query("INSERT INTO records (type, ref, year, seq, title, status, schema_version, created_by) VALUES ('deal', $1, $2, $3, 'x', 'new', 2, 'bench') RETURNING id", [`DL-${year}-9${seq}`, year, 900000 + seq])).rows[0].id;
        await d.query("INSERT INTO events (record_id, actor, source, kind) VALUES ($1, 'bench', 'import', 'record_created')", [id]);
        for (const cell of cells) {
          await d.query('SELECT * FROM field_values WHERE record_id = $1 AND COALESCE(party_id, 0) = 0 AND field_id = $2 FOR UPDATE', [id, cell.field_id]);
          await d.query(
            `INSERT INTO field_values (record_id, party_id, field_id, value, schema_version, set_by, source, origin) VALUES ($1, NULL, $2, $3, 2, 'bench', 'import', 'x')
             ON CONFLICT (record_id, COALESCE(party_id, 0), field_id) DO UPDATE SET value = EXCLUDED.value`,
            [id, cell.field_id, JSON.stringify(cell.value)],
          );
          await d.query("INSERT INTO events (record_id, actor, source, kind, field, new_value) VALUES ($1, 'bench', 'import', 'field_set', $2, $3)", [id, cell.field_id, JSON.stringify(cell.value)]);
        }
      }
      oldS = ((performance.now() - t2) / 1000) * (ROWS / SAMPLE);
      await d.query('ROLLBACK');
    } finally {
      d.release();
    }

    const speedup = oldS / dossierS;
    const pass = speedup >= 20;
    console.log(`import: ${ROWS} deals × ${filled} values (${values} in all) from XLSX in ${s(dossierS)}; plain multi-row INSERT ${s(plainS)} (${ratio(dossierS, plainS)}); row at a time ~${s(oldS)} → ${speedup.toFixed(1)}× faster — ${verdict(pass)}`);
    result('import', `XLSX import, ${ROWS} deals × ${filled} values`, [
      { measure: 'whole CLI run', value: s(dossierS), baselineName: 'plain multi-row INSERT of the same rows', baseline: s(plainS), ratio: ratio(dossierS, plainS), target: null, pass: null },
      { measure: 'speed-up over row at a time', value: `${speedup.toFixed(1)}×`, baselineName: `row at a time (${SAMPLE} records timed, scaled)`, baseline: s(oldS), ratio: ratio(dossierS, oldS), target: '≥ 20× faster', pass },
    ], [
      'the Dossier figure is the whole `dossier record import` process (start, reading the XLSX, checking every cell, the writes with their audit events); the plain INSERT writes only the records and values rows, without checks or events',
    ]);
  } finally {
    await app?.close();
    removeTemp(dir);
  }
}

await main();
