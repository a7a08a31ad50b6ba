import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { App } from '../app.js';
import { journal } from './journal.js';
import { processMessage, type IntakeResult } from './process.js';

// The embedded default source: a Maildir. A message in new/ or cur/ is journaled, processed, and only
// then moved to the Maildir++ folder .Processed or .Quarantine (a crash before the move leaves it
// where it was; the journal knows it by its bytes and it is not applied twice).

export function maildirPath(app: App): string {
  return app.config.intake.maildir ? path.resolve(app.config.intake.maildir) : path.join(app.home, 'inbox');
}

export async function ensureMaildir(dir: string): Promise<void> {
  for (const sub of ['tmp', 'new', 'cur', '.Processed/cur', '.Processed/new', '.Processed/tmp', '.Quarantine/cur', '.Quarantine/new', '.Quarantine/tmp']) {
    await mkdir(path.join(dir, sub), { recursive: true });
  }
}

// Quarantined, refused and failed messages go to .Quarantine (kept for `dossier mail show|replay`).
const folderFor = (outcome: string) => (outcome === 'applied' || outcome === 'ignored' ? '.Processed' : '.Quarantine');

/** One pass over new/ and cur/; `shouldStop` is asked between messages (a worker shutting down). */
export async function pollMaildir(app: App, onResult: (r: IntakeResult, file: string) => void = () => {}, shouldStop: () => boolean = () => false): Promise<IntakeResult[]> {
  const dir = maildirPath(app);
  await ensureMaildir(dir);
  const results: IntakeResult[] = [];
  for (const sub of ['new', 'cur']) {
    const names = (await readdir(path.join(dir, sub))).filter((n) => !n.startsWith('.')).sort();
    for (const name of names) {
      if (shouldStop()) return results;
      const file = path.join(dir, sub, name);
      const raw = await readFile(file).catch(() => null);
      if (!raw) continue; // taken by another worker meanwhile
      const { row } = await journal(app, raw, { mailbox: 'maildir', sourceRef: name });
      const r = row.outcome ? { id: row.id, outcome: row.outcome, reason: row.reason ?? '', ref: null, outbox: [] } : await processMessage(app, row.id);
      if (!r) continue;
      await rename(file, path.join(dir, folderFor(r.outcome), 'cur', name.includes(':2,') ? name : `${name}:2,S`)).catch(() => {});
      results.push(r);
      onResult(r, name);
    }
  }
  return results;
}
