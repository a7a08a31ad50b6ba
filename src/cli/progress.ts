import type { Io } from './output.js';

// A progress bar on standard error for long imports, only when a person watches a terminal (not
// under --json, not in a pipe or a test). cli-progress is loaded only then.

export type OnProgress = (phase: 'checking' | 'writing', done: number, total: number) => void;

export interface Progress { onProgress: OnProgress; stop(): void }

const PHASE = { checking: 'checking rows', writing: 'writing      ' } as const;

export async function progressBar(io: Io, json: boolean, stream: NodeJS.WriteStream = process.stderr): Promise<Progress> {
  if (json || !io.isTty || !stream.isTTY) return { onProgress: () => {}, stop: () => {} };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { stream, format: '{phase} [{bar}] {percentage}% | {value}/{total} rows | {duration_formatted}', hideCursor: true, clearOnComplete: false, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let phase: keyof typeof PHASE | null = null;
  return {
    onProgress: (p, done, total) => {
      if (p !== phase) {
        if (phase) bar.stop();
        phase = p;
        bar.start(total, done, { phase: PHASE[p] });
      } else bar.update(done);
    },
    stop: () => {
      if (phase) bar.stop();
      phase = null;
    },
  };
}
