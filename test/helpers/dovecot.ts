// The Dovecot starter lives in src/tools so that the benchmarks (plain JS over dist/) share it.
export { startDovecot, type TestDovecot } from '../../src/tools/dovecot.js';
