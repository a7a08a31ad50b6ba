// Benchmark: how long a person waits for the CLI. Each figure is a whole `node bin/dossier …` process,
// timed beside a bare `node -e 0` start (Node's own floor), the contenders taking turns so that a
// change in the machine's load meets them all alike:
//   - `dossier --help` and `dossier --version`: only commander and the CLI's own file load (every
//     command module, and exceljs, pdf-lib, imapflow, pg-boss… behind them, are imported when a
//     command runs). Target: --help within 4× of node -e 0.
//   - `dossier record list` on a warm embedded server (database.embeddedIdleSeconds keeps it up
//     between commands): the configuration, pg, the migrations check and one query.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { dossierHome, importDeal, ms, ratio, removeTemp, result, root, tempDir, timeInterleaved, verdict } from './lib.mjs';

const bin = path.join(root, 'bin', 'dossier');

async function main() {
  const dir = tempDir('dossier-bench-startup-');
  const h = dossierHome(dir);
  const warm = { ...h.env, DOSSIER_DATABASE__EMBEDDED_IDLE_SECONDS: '600' };
  const node = (args, env = h.env) => () => execFileSync(process.execPath, args, { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    importDeal(h);
    node([bin, 'record', 'list'], warm)(); // leaves the server up
    const t = await timeInterleaved(
      {
        bare: node(['-e', '0']),
        help: node([bin, '--help']),
        version: node([bin, '--version']),
        list: node([bin, 'record', 'list'], warm),
      },
      { warmup: 2, n: 15 },
    );
    const helpRatio = t.help.median / t.bare.median;
    const pass = helpRatio <= 4;
    console.log(`startup: node -e 0 ${ms(t.bare.median)}, --help ${ms(t.help.median)} (${ratio(t.help.median, t.bare.median)}) — ${verdict(pass)}, --version ${ms(t.version.median)}, record list (warm server) ${ms(t.list.median)} (${ratio(t.list.median, t.bare.median)})`);
    result('startup', 'CLI start-up', [
      { measure: 'dossier --help', value: ms(t.help.median), baselineName: 'node -e 0', baseline: ms(t.bare.median), ratio: ratio(t.help.median, t.bare.median), target: '≤ 4× node -e 0', pass },
      { measure: 'dossier --version', value: ms(t.version.median), baselineName: 'node -e 0', baseline: ms(t.bare.median), ratio: ratio(t.version.median, t.bare.median), target: null, pass: null },
      { measure: 'dossier record list, warm embedded server', value: ms(t.list.median), baselineName: 'node -e 0', baseline: ms(t.bare.median), ratio: ratio(t.list.median, t.bare.median), target: null, pass: null },
    ], [`medians of ${t.bare.n} runs of each, taking turns; each a whole process started with execFileSync`]);
  } finally {
    try {
      execFileSync(process.execPath, [bin, 'db', 'stop'], { env: warm, cwd: dir, stdio: 'ignore' });
    } catch {
      // already stopped
    }
    removeTemp(dir);
  }
}

await main();
