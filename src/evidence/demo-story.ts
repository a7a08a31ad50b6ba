import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Actor, App } from '../app.js';
import { computeChecklist, missingLines } from '../checklists/checklist.js';
import { requestMissing } from '../checklists/request.js';
import { listDue } from '../deadlines/due.js';
import { fixturesDir } from '../paths.js';
import { attachFiles } from '../records/attachments.js';
import { describeReuse, listEvidence } from './reuse.js';
import { editPhoto } from './sample-images.js';

// Issue 17's part of `dossier demo`, told after the day's mail: the deal's checklists, the request
// that would go to the client, a reused photo caught, and the answers still due. Read-only except
// for one attachment (the reused photo) on the deal; it creates no record.

export async function checklistsEvidenceDeadlinesStory(app: App, actor: Actor, refs: { deal: string; claim: string }, say: (line: string) => void): Promise<void> {
  say('');
  say(`6. Checklists (dossier checklist ${refs.deal}):`);
  for (const r of (await computeChecklist(app, refs.deal)).recipients) {
    say(`   ${r.recipient}: ${r.complete ? 'complete' : `missing — ${missingLines(r).join('; ')}`}`);
  }
  const request = await requestMissing(app, actor, refs.deal, { to: 'client', dryRun: true }).catch(() => null);
  if (request) say(`   \`dossier checklist request ${refs.deal} --to client\` would email ${request.addresses.join(', ')} ${request.lines.length} line(s) of what is missing.`);

  // The client sends a "photo of the car" for the deal: the claim's scene photo, halved, recompressed, cropped.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dossier-demo-'));
  try {
    const copy = path.join(dir, 'IMG_5120.jpg');
    await writeFile(copy, await editPhoto(await readFile(path.join(fixturesDir, 'scans', 'scene-photo-1.jpg')), 'all', 5));
    await attachFiles(app.db, app.blobs, app.config, actor, refs.deal, [copy], 'vehicle_photos');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  say(`7. Reused evidence (dossier evidence): a "photo of the car" for the deal is checked against every record —`);
  const lines = describeReuse(refs.deal, (await listEvidence(app.db)).filter((m) => m.a.ref === refs.deal || m.b.ref === refs.deal));
  for (const l of lines.length ? lines : ['  nothing found']) say(`   ${l.trim()}`);

  say(`8. Deadlines (dossier due --all): each counterparty's promised answer time, from its package email:`);
  for (const i of await listDue(app, { all: true })) {
    if (i.ref !== refs.deal && i.ref !== refs.claim) continue;
    say(`   ${i.ref} ${i.party}: ${i.step} in ${i.days} ${i.count} day(s) — ${i.state.replace('_', ' ')}`);
  }
}
