import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Actor, App } from '../app.js';
import { withTransaction } from '../db/pool.js';
import { renderText } from '../documents/text.js';
import { DossierError } from '../errors.js';
import type { PgBoss } from 'pg-boss';
import { ensureQueues, queueMail, queuePackageJob, type PackageJob } from '../db/queues.js';
import { enqueueMail, type OutboxRow } from '../outbound/outbox.js';
import { tokenSecret } from '../outbound/settings.js';
import { replyAddress, replyToken, subjectTag } from '../outbound/tokens.js';
import { addParty, checkRole, getParty, linkParty, partyProblems, type PartyRow } from '../records/parties.js';
import { getRecord } from '../records/records.js';
import { buildPackages, recipientsFor, type BuiltPackage } from './build.js';

// `pack send` and `share`: build the packages, then one email per zip into the outbox, each with the
// record tag and the recipient's reply token in the subject and a plus-address Reply-To, so that the
// recipient — and only that recipient — can add documents to this record by replying.

export interface SentMail { recipient: string; to: string[]; subject: string; part: number; parts: number; attachment: string; bytes: number; outbox: number | null }

export async function sendPackages(app: App, actor: Actor, ref: string, opts: { recipients: string[] | 'all'; dryRun?: boolean; outDir?: string | undefined; onProgress?: (r: string, d: number, t: number) => void; boss?: PgBoss }): Promise<SentMail[]> {
  const built = await buildPackages(app, actor, ref, { recipients: opts.recipients, outDir: opts.outDir, onProgress: opts.onProgress });
  const record = await getRecord(app.db, ref);
  const secret = await tokenSecret(app);
  const mails: SentMail[] = [];
  const rows: OutboxRow[] = [];
  await withTransaction(app.db, async (c) => {
    for (const pkg of built) {
      const party = await getParty(c, pkg.recipient);
      if (!party.emails.length) {
        throw new DossierError('PARTY_INVALID', `${party.key} has no email address, so its package cannot be sent.`, { hint: `Add one: dossier party import … --update, or link another party.` });
      }
      const token = replyToken(secret, record.ref, party.key);
      await c.query('UPDATE record_parties SET reply_token = $3 WHERE record_id = $1 AND party_id = $2', [record.id, party.id, token]);
      for (const part of pkg.parts) {
        const partNote = part.parts > 1 ? `часть ${part.part} из ${part.parts}` : '';
        const data = { ...pkg.data, specials: { ...pkg.data.specials, $part: part.part, $parts: part.parts, $part_note: partNote, $archive: part.fileName } };
        const read = (f: string) => readFileSync(path.join(pkg.profile.dir, f), 'utf8');
        const subjectText = renderText(pkg.profile.email.subject, data, { name: `${path.basename(pkg.profile.file)} email.subject` });
        const subject = `${subjectTag(record.ref, token)} ${subjectText}${part.parts > 1 ? ` (часть ${part.part} из ${part.parts})` : ''}`;
        const text = renderText(read(pkg.profile.email.text), data, { name: pkg.profile.email.text });
        const html = pkg.profile.email.html ? renderText(read(pkg.profile.email.html), data, { name: pkg.profile.email.html, html: true }) : undefined;
        const mail: SentMail = { recipient: party.key, to: party.emails, subject, part: part.part, parts: part.parts, attachment: part.fileName, bytes: part.size, outbox: null };
        if (!opts.dryRun) {
          const row = await enqueueMail(app, c, actor, {
            recordId: record.id,
            partyId: party.id,
            packageId: part.packageId,
            kind: 'package',
            to: party.emails,
            replyTo: replyAddress(app.config.mail.intakeAddress, record.ref, token),
            subject,
            text,
            ...(html ? { html } : {}),
            attachments: [{ filename: part.fileName, path: part.path, contentType: 'application/zip' }],
            automatic: false,
          });
          mail.outbox = row.id;
          rows.push(row);
        }
        mails.push(mail);
      }
    }
  });
  // One INSERT of the mail jobs (no pg-boss started here); a row without a job is queued by the worker's sweep.
  await queueMail(app.db, rows.map((r) => r.id));
  return mails;
}

/** The built packages, for `pack build`. */
export type { BuiltPackage };

/**
 * Shares a record's package with someone outside, by email (a lawyer): finds the party by address
 * or creates it, links it with the role, and sends the full package with its reply token.
 */
export async function share(app: App, actor: Actor, ref: string, opts: { email: string; role: string; name?: string | undefined }): Promise<{ party: string; created: boolean; mails: SentMail[] }> {
  checkRole(app.config, opts.role);
  const email = opts.email.trim().toLowerCase();
  const record = await getRecord(app.db, ref);
  let party: PartyRow | undefined = (await app.db.query<PartyRow>('SELECT * FROM parties WHERE $1 = ANY(emails) ORDER BY id LIMIT 1', [email])).rows[0];
  let created = false;
  if (!party) {
    const kind = app.config.parties.kinds.includes(opts.role) ? opts.role : 'lawyer';
    const base = `${kind}-${email.split('@')[0]!.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'contact'}`.slice(0, 50);
    let key = base;
    for (let i = 2; (await app.db.query('SELECT 1 FROM parties WHERE key = $1', [key])).rowCount; i++) key = `${base}-${i}`;
    const input = { key, kind, name: opts.name ?? email, emails: [email] };
    const problems = partyProblems(app.config, input);
    if (problems.length) throw new DossierError('PARTY_INVALID', `Cannot share with ${email}: ${problems.join('; ')}.`);
    party = await addParty(app.db, app.config, actor, input);
    created = true;
  }
  await linkParty(app.db, app.config, actor, record.ref, party.key, opts.role);
  const mails = await sendPackages(app, actor, record.ref, { recipients: [party.key] });
  return { party: party.key, created, mails };
}

/** `pack send --background`: the worker builds and sends them; returns the job, or null if the same request is already waiting. */
export async function queuePackages(app: App, actor: Actor, ref: string, recipients: string[] | 'all'): Promise<{ ref: string; recipients: string[] | 'all'; job: string | null }> {
  const record = await getRecord(app.db, ref); // an unknown reference is refused here, not later in the worker
  await recipientsFor(app, record, recipients);
  await ensureQueues(app);
  const data: PackageJob = { ref: record.ref, recipients, actor };
  return { ref: record.ref, recipients, job: await queuePackageJob(app.db, data) };
}
