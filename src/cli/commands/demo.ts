import path from 'node:path';
import type { Actor, App } from '../../app.js';
import { attachFiles } from '../../records/attachments.js';
import { importParties, linkParty } from '../../records/parties.js';
import { changeStatus, createRecord } from '../../records/records.js';
import { fixturesDir } from '../../paths.js';
import { recordHistoryCmd, recordShow, renderHistory, renderRecord } from './records.js';

// The demo grows with the product: for now it creates a sample deal with its client and three banks,
// attaches the client's scans, moves it to "collecting" and shows it with its history. Running it
// again adds another deal and reuses the parties.

export async function demo(app: App, actor: Actor, say: (line: string) => void) {
  say(`Dossier demo — data in ${app.home}${app.embedded ? ' (embedded PostgreSQL)' : ''}`);
  const parties = await importParties(app.db, app.config, actor, path.join(fixturesDir, 'parties.csv'), { update: true });
  say(`1. Party directory: ${parties.added.length} added, ${parties.updated.length} already known (fixtures/parties.csv).`);

  const deal = await createRecord(app.db, app.config, actor, { type: 'deal', title: 'Автокредит — Смирнов А. В.', schemaVersion: await app.schemas.newestPublished('deal') });
  say(`2. Created deal ${deal.ref}.`);
  await linkParty(app.db, app.config, actor, deal.ref, 'client-smirnov', 'client');
  for (const bank of ['bank-sever', 'bank-volga', 'bank-meridian']) await linkParty(app.db, app.config, actor, deal.ref, bank, 'recipient');
  say('3. Linked the client and three banks.');
  const scans = ['passport-smirnov.pdf', 'passport-smirnov-p2.jpg'].map((f) => path.join(fixturesDir, 'scans', f));
  await attachFiles(app.db, app.blobs, app.config, actor, deal.ref, scans, 'passport_scans');
  await attachFiles(app.db, app.blobs, app.config, actor, deal.ref, [path.join(fixturesDir, 'scans', 'income-2ndfl-smirnov.pdf')], 'income_documents');
  say('4. Attached the passport scans and the income statement.');
  await changeStatus(app.db, app.config, actor, { ref: deal.ref, status: 'collecting', reason: 'demo: documents are being collected' });
  say('5. Moved the deal to "collecting".');
  say('');
  say(renderRecord(await recordShow(app, deal.ref)));
  say('');
  say(renderHistory(await recordHistoryCmd(app, deal.ref)));
  say('');
  say(`Try: npx dossier record list   ·   npx dossier record show ${deal.ref}   ·   npx dossier --help`);
  return { ref: deal.ref };
}
