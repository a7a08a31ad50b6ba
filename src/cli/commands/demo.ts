import path from 'node:path';
import type { Actor, App } from '../../app.js';
import { attachFiles } from '../../records/attachments.js';
import { changeStatus } from '../../records/records.js';
import { importRecords } from '../../schemas/bulk.js';
import { setFields } from '../../schemas/fields.js';
import { fixturesDir } from '../../paths.js';
import { fieldShow, renderFieldView } from './fields.js';
import { recordHistoryCmd, recordShow, renderHistory, renderRecord } from './records.js';

// The demo grows with the product. For now: the sample deal (a client, three banks, 300+ values and a
// few per-bank overrides) is imported, the client's scans attached, the base loan term changed so
// that one bank's override goes stale, and the deal is shown. Running it again adds another deal and
// reuses the parties.

export async function demo(app: App, actor: Actor, say: (line: string) => void) {
  say(`Dossier demo — data in ${app.home}${app.embedded ? ' (embedded PostgreSQL)' : ''}`);
  const [imported] = await importRecords(app, actor, 'deal', path.join(fixturesDir, 'records', 'deal.json'));
  const ref = imported!.ref;
  say(`1. Imported the sample deal ${ref}: ${imported!.values} values, parties ${imported!.parties.join(', ')} (fixtures/records/deal.json).`);

  const scans = ['passport-smirnov.pdf', 'passport-smirnov-p2.jpg'].map((f) => path.join(fixturesDir, 'scans', f));
  await attachFiles(app.db, app.blobs, app.config, actor, ref, scans, 'passport_scans');
  await attachFiles(app.db, app.blobs, app.config, actor, ref, [path.join(fixturesDir, 'scans', 'income-2ndfl-smirnov.pdf')], 'income_documents');
  say('2. Attached the passport scans and the income statement.');

  await changeStatus(app.db, app.config, actor, { ref, status: 'collecting', reason: 'demo: documents are being collected' });
  say('3. Moved the deal to "collecting".');

  await setFields(app, actor, ref, [{ party: null, field: 'loan_term_months', raw: '72' }], { source: 'cli' });
  say('4. Changed the base loan term to 72 months: bank-sever keeps its own 48, now marked as a stale override.');
  say('');
  say(renderRecord(await recordShow(app, ref)));
  say('');
  const sever = await fieldShow(app, ref, { recipient: 'bank-sever' });
  sever.values = sever.values.filter((v) => ['loan_amount', 'loan_term_months', 'payment_day', 'borrower_last_name', 'bank_product_code'].includes(v.field));
  say(renderFieldView(sever));
  say('');
  const history = await recordHistoryCmd(app, ref);
  history.events = history.events.filter((e) => !['field_set'].includes(e.kind) || e.actor !== `import:deal.json`);
  say(renderHistory(history));
  say('');
  say(`Next: npx dossier field show ${ref} --recipient bank-sever   ·   npx dossier schema diff deal v1 v2   ·   npx dossier --help`);
  return { ref };
}
