import { idleStopper } from './embedded.js';

// The small detached process that keeps the embedded server up for database.embeddedIdleSeconds after
// the last command, then stops it if nobody uses it (see idleStopper in embedded.ts).
// Arguments: the Dossier home, the postmaster's pid.
const [home, pid] = process.argv.slice(2);
if (!home) {
  process.stderr.write('usage: idle-stopper.js <home> <postmaster pid>\n');
  process.exit(2);
}
await idleStopper(home, Number(pid) || 0).catch(() => {});
process.exit(0);
