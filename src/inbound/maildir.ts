import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { App } from '../app.js';
import { intakeBatch, type BatchItem } from './batch.js';
import { newPassCache } from './facts.js';
import type { IntakeResult } from './process.js';

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

const CHUNK = 50;

/** One pass over new/ and cur/; `shouldStop` is asked between messages (a worker shutting down). */
export async function pollMaildir(app: App, onResult: (r: IntakeResult, file: string) => void = () => {}, shouldStop: () => boolean = () => false): Promise<IntakeResult[]> {
  const dir = maildirPath(app);
  await ensureMaildir(dir);
  const results: IntakeResult[] = [];
  const cache = newPassCache(app);
  for (const sub of ['new', 'cur']) {
    const names = (await readdir(path.join(dir, sub))).filter((n) => !n.startsWith('.')).sort();
    for (let i = 0; i < names.length && !shouldStop(); i += CHUNK) {
      const batch: BatchItem<string>[] = [];
      for (const name of names.slice(i, i + CHUNK)) {
        const raw = await readFile(path.join(dir, sub, name)).catch(() => null);
        if (raw) batch.push({ raw, origin: { mailbox: 'maildir', sourceRef: name }, key: name }); // else taken by another worker meanwhile
      }
      await intakeBatch(
        app,
        batch,
        async (name, r) => {
          await rename(path.join(dir, sub, name), path.join(dir, folderFor(r.outcome), 'cur', name.includes(':2,') ? name : `${name}:2,S`)).catch(() => {});
          results.push(r);
          onResult(r, name);
        },
        { cache, shouldStop },
      );
    }
  }
  return results;
}
