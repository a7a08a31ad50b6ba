import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Actor, App } from '../app.js';
import { runDeadlines } from '../deadlines/due.js';
import { renderTemplate } from '../documents/render.js';
import { demoSigner } from '../inbound/demo-signer.js';
import { ingest } from '../inbound/ingest.js';
import { deliver, transportFor } from '../outbound/outbox.js';
import { attachFiles } from '../records/attachments.js';
import { startApproval } from './approvals.js';
import { listApprovals } from './view.js';
import { approvalTag } from './reply.js';

// Issue 17's approvals and reminders in `dossier demo`, told after the checklists: the questionnaire
// Dossier filled for a bank goes along the configured contract chain (the lawyer, then the director),
// who answer by email through the real intake — one forged "approval" in the director's name is not
// counted — and the worker's deadline check, run as if ten days had passed, reminds the silent
// counterparties and sends staff the digest. The mail it causes is delivered like the rest.

const b64 = (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;

export async function approvalsAndRemindersStory(app: App, actor: Actor, refs: { deal: string; claim: string }, say: (line: string) => void): Promise<void> {
  const chain = Object.entries(app.config.approvals.chains)[0];
  if (!chain) return;
  const [name, { approvers }] = chain;
  // The approvers' mail server signs their mail, with a key made for this demo (as the managers' is).
  const domain = approvers[0]!.email.split('@')[1]!;
  const signer = demoSigner(domain, `approvals-${randomBytes(3).toString('hex')}`);
  const before = app.dnsResolver;
  app.dnsResolver = async (q, t) => signer.resolver(q, t).catch((err: unknown) => (before ? before(q, t) : Promise.reject(err)));

  const dir = await mkdtemp(path.join(os.tmpdir(), 'dossier-demo-'));
  try {
    const doc = await renderTemplate(app, refs.deal, path.join(app.templatesDir, 'bank-sever', 'questionnaire.docx'), 'bank-sever');
    const file = path.join(dir, 'Анкета-заявление bank-sever.docx');
    await writeFile(file, doc.bytes);
    await attachFiles(app.db, app.blobs, app.config, actor, refs.deal, [file], app.config.approvals.chains[name]!.category ?? 'contracts');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const started = await startApproval(app, actor, refs.deal, { chain: name });
  say('');
  say(`9. Approvals by reply (dossier approval start ${refs.deal} --chain ${name}): «${started.file}» goes to ${approvers.map((a) => a.email).join(', then ')}:`);
  const request = (await app.db.query<{ subject: string; message_id: string }>('SELECT o.subject, o.message_id FROM approval_steps s JOIN outbox o ON o.id = s.outbox_id WHERE s.approval_id = $1 AND s.position = 1', [started.id])).rows[0]!;
  const answer = async (from: string, text: string, signed: boolean, what: string) => {
    const raw = Buffer.from(
      [`From: ${from}`, `To: ${app.config.mail.intakeAddress}`, `Subject: ${b64(`Re: ${request.subject}`)}`, `Message-ID: <approval-${randomBytes(6).toString('hex')}@${domain}>`, `In-Reply-To: ${request.message_id}`, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text, ''].join('\r\n'),
    );
    const r = await ingest(app, signed ? await signer.sign(raw) : raw, `demo ${approvalTag(started.id)}`);
    say(`   ← ${what}: ${r.outcome} — ${r.reason}`);
  };
  const [first, second] = approvers;
  if (first) await answer(first.email, 'Согласовано.', true, `${first.email} replies «Согласовано»`);
  if (second) {
    await answer(second.email, 'Согласовано', false, `a forged «Согласовано» in ${second.email}'s name, sent from an outside server`);
    await answer(second.email, 'Согласовано, подписываю.', true, `${second.email} replies «Согласовано, подписываю»`);
  }
  const view = (await listApprovals(app, refs.deal)).find((a) => a.id === started.id)!;
  say(`   dossier approval ${refs.deal}: ${view.status}; ${view.steps.map((s) => `${s.approver} ${s.state}`).join(', ')}; ${view.notCounted.length} reply not counted.`);

  // The worker's deadline check (every deadlines.checkMinutes), run here as if ten days had passed.
  const later = new Date(Date.now() + 10 * 86_400_000);
  later.setUTCHours(12, 0, 0, 0); // in office hours, after deadlines.digestHour
  const run = await runDeadlines(app, actor, { now: later });
  say(`10. Deadlines in the worker (the deadlines.run job), as on ${later.toISOString().slice(0, 10)}:`);
  for (const r of run.reminders.filter((x) => x.ref === refs.deal || x.ref === refs.claim)) say(`   ${r.ref} ${r.party}: ${r.outbox ? `reminder sent (${r.step} overdue)` : `no reminder — ${r.skipped}`}`);
  say(`   digest to staff: ${run.digest?.outbox ? `${run.digest.overdue} overdue, ${run.digest.dueSoon} due soon` : `none (${run.digest?.skipped ?? 'before deadlines.digestHour'})`}`);

  // The mail this part caused goes out now, the way the worker sends it.
  const transport = transportFor(app);
  try {
    const queued = (await app.db.query<{ id: number }>(`SELECT id::int FROM outbox WHERE status = 'queued' ORDER BY id`)).rows;
    for (const q of queued) await deliver(app, transport, q.id);
  } finally {
    transport.close();
  }
}
