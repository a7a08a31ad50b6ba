import { processIo } from './output.js';
import { runCli } from './program.js';
import { closeAll } from './session.js';

// The process entry point: runs the CLI, and on SIGINT/SIGTERM closes what is open (which stops the
// embedded PostgreSQL server if this process was the last one using it) before exiting.
let stopping = false;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping…\n`);
    void closeAll().finally(() => process.exit(code));
  });
}

const code = await runCli(process.argv.slice(2), { io: processIo(), env: process.env, cwd: process.cwd() });
process.exitCode = code;
