import { processIo } from './output.js';
import { runCli } from './program.js';

// session.js (and through it the configuration, pg, the schemas…) is loaded only when a command opens
// the app; a signal before that has nothing to close, and importing it then costs nothing that matters.
const closeAll = async (opts: { graceful?: boolean } = {}) => (await import('./session.js')).closeAll(opts);

// The process entry point: runs the CLI, and on SIGINT/SIGTERM closes what is open (which stops the
// embedded PostgreSQL server if this process was the last one using it) before exiting.
// A long-running command (the worker) first finishes or hands back its work in flight; a second
// signal stops at once (the database still closes, and the journal makes the rest safe to redo).
let stopping = false;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    if (stopping) {
      process.stderr.write(`\n${signal} again: stopping now…\n`);
      void closeAll().finally(() => process.exit(code));
      return;
    }
    stopping = true;
    process.stderr.write(`\n${signal}: stopping…\n`);
    void closeAll({ graceful: true }).finally(() => process.exit(code));
  });
}

// A fault outside any command's error handling (an 'error' event nobody listens to) must still
// close the database, or the embedded server would be left running.
process.on('uncaughtException', (err) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`error INTERNAL: ${err.message}\n  hint: This is a bug. Please report it with this output.\n${process.env.DOSSIER_DEBUG ? err.stack + '\n' : ''}`);
  void closeAll().finally(() => process.exit(3));
});

const code = await runCli(process.argv.slice(2), { io: processIo(), env: process.env, cwd: process.cwd() });
process.exitCode = code;
