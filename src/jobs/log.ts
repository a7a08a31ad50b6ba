import { pino, type Logger } from 'pino';

// Structured logs for the long-running worker: one JSON line per message outcome, per mail or text
// sent, per mailbox state change — what an operator greps or ships to a log store. Written
// synchronously so that the last lines before an exit are not lost.

export type { Logger };

export function createLogger(write: (line: string) => void, level = process.env.DOSSIER_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, { write: (s: string) => write(s.trimEnd()) });
}
