#!/usr/bin/env node
// `npm run test:under-load`: the whole suite while another CPU-heavy process runs — what a busy
// 2-core CI machine or a developer's laptop with a build going looks like. One busy process per
// core (a hashing loop, as a compiler or an image job would be) runs for as long as the suite does;
// the suite must pass all the same (no test has a time bound; timeouts are for hangs only).
// Usage: node scripts/test-under-load.mjs [--burners N] [-- vitest args…]
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const args = process.argv.slice(2);
const split = args.indexOf('--');
const own = split >= 0 ? args.slice(0, split) : args;
const vitestArgs = split >= 0 ? args.slice(split + 1) : [];
const n = own.includes('--burners') ? Number(own[own.indexOf('--burners') + 1]) : availableParallelism();
if (!Number.isInteger(n) || n < 1) {
  console.error('--burners takes a whole number of busy processes (default: one per core)');
  process.exit(2);
}

const burn = `const { createHash } = require('node:crypto'); const b = Buffer.alloc(1 << 16); for (;;) createHash('sha256').update(b).digest();`;
const burners = Array.from({ length: n }, () => spawn(process.execPath, ['-e', burn], { stdio: 'ignore' }));
const stopBurners = () => burners.forEach((b) => b.kill('SIGKILL'));
process.on('exit', stopBurners);
console.log(`== ${n} CPU-heavy process(es) running beside the suite (pids ${burners.map((b) => b.pid).join(', ')})`);

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const suite = spawn(npx, ['vitest', 'run', ...vitestArgs], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => suite.kill(sig));
suite.on('exit', (code, signal) => {
  stopBurners();
  console.log(`== suite finished under load: ${signal ?? `exit ${code}`}`);
  process.exit(code ?? 1);
});
