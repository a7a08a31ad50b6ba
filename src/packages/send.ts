import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Actor, App } from '../app.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import type { RenderData } from '../documents/evaluate.js';
import { renderData } from '../documents/render.js';
import { renderText } from '../documents/text.js';
import { DossierError, isDossierError, type ErrorCode } from '../errors.js';
import type { PgBoss } from 'pg-boss';
import { ensureQueues, queueMail, queuePackageJob, type PackageJob } from '../db/queues.js';
import { enqueueMail, type OutboxRow } from '../outbound/outbox.js';
import { tokenSecret } from '../outbound/settings.js';
import { issueReplyToken, replyAddress, replyToken, subjectTag } from '../outbound/tokens.js';
import { addParty, checkRole, linkParty, partyProblems, type LinkedParty, type PartyRow } from '../records/parties.js';
import { changeStatusIn, getRecord, transitionAllowed, type RecordRow } from '../records/records.js';
import { buildPackages, recipientsFor, type BuiltPackage, type OmittedScan } from './build.js';
import { profileFor, type PackageProfile } from './profile.js';

// `pack send` and `share`: each recipient's package — the one built before if nothing that goes into
// it changed since, else a new build — as one email per zip into the outbox, each with the record tag
// and the recipient's reply token in the subject and a plus-address Reply-To, so that the recipient —
// and only that recipient — can add documents to this record by replying. A package goes to a
// recipient once (again only when asked), and one recipient's failure stops only that recipient.

export interface SentMail { recipient: string; to: string[]; subject: string; part: number; parts: number; attachment: string; bytes: number; outbox: number | null }

/** What happened to one recipient's package in a `pack send`. */
export interface RecipientOutcome {
  recipient: string;
  /** sent: queued now; dry-run: would be; skipped: already sent (no --again); failed: see code/message. */
  outcome: 'sent' | 'dry-run' | 'skipped' | 'failed';
  /** reused: the package built (and reviewed) before; built: none existed; rebuilt: changes since, listed. */
  build?: 'reused' | 'built' | 'rebuilt';
  changes?: string[];
  code?: string;
  message?: string;
  /** Scans too big for one email to this recipient, left out of its package. */
  omitted?: OmittedScan[];
  /** For skipped: the earlier email. */
  earlier?: { outbox: number; status: string; at: Date };
}

export interface SendReport {
  ref: string;
  dryRun: boolean;
  mails: SentMail[];
  recipients: RecipientOutcome[];
  /** The record's status moved because the packages went out (recordTypes.<type>.statusOnSend). */
  status: { from: string; to: string } | { stays: string; wanted: string; why: string } | null;
}

export interface SendOptions {
  recipients: string[] | 'all';
  dryRun?: boolean;
  /** Send to recipients whose package already went out (or is queued) once more. */
  again?: boolean;
  outDir?: string | undefined;
  onProgress?: (r: string, d: number, t: number) => void;
  boss?: PgBoss;
}

/** The events that change what a recipient's package would contain. */
const CHANGING = ['field_set', 'field_cleared', 'override_confirmed', 'attachment_added', 'attachment_detached', 'schema_migrated', 'party_changed'];

/** What changed since a package was built, in words (empty: it is still what would be built now). */
async function changesSince(app: App, record: RecordRow, party: LinkedParty, profile: PackageProfile, builtAt: Date): Promise<string[]> {
  const events = (
    await app.db.query<{ kind: string; field: string | null; details: { section?: string } | null; old_value: { file?: string } | null; new_value: { file?: string } | null }>(
      `SELECT kind, field, details, old_value, new_value FROM events
       WHERE at > $3 AND kind = ANY($4) AND (record_id = $1 OR (record_id IS NULL AND party_id = $2)) ORDER BY id`,
      [record.id, party.id, builtAt, CHANGING],
    )
  ).rows;
  const categories = new Set(profile.attachments.map((a) => a.category));
  const fields = new Set<string>();
  const out: string[] = [];
  for (const e of events) {
    if (e.kind.startsWith('field_') || e.kind === 'override_confirmed') {
      const section = e.details?.section ?? 'base';
      if (section === 'base' || section === party.key) fields.add(`${e.field}${section === 'base' ? '' : ` [${section}]`}`);
    } else if (e.kind.startsWith('attachment_')) {
      const category = (e.field ?? '').replace(/^attachment:/, '');
      if (categories.has(category)) out.push(`${e.kind === 'attachment_added' ? 'attached' : 'detached'} ${(e.new_value ?? e.old_value)?.file ?? '?'} (${category})`);
    } else if (e.kind === 'schema_migrated') out.push('the record moved to another schema version');
    else if (e.kind === 'party_changed') out.push(`${party.key}'s ${e.field} changed`);
  }
  if (fields.size) out.unshift(`value${fields.size > 1 ? 's' : ''} ${[...fields].join(', ')} changed`);
  const files = [profile.file, path.join(profile.dir, profile.email.text), ...(profile.email.html ? [path.join(profile.dir, profile.email.html)] : []), ...profile.documents.map((d) => path.join(profile.dir, d.template))];
  for (const f of files) {
    const st = await stat(f).catch(() => null);
    if (st && st.mtime > builtAt) out.push(`${path.relative(app.templatesDir, f)} was edited`);
  }
  return out;
}

interface LastBuild { buildId: string; at: Date; parts: { id: number; part: number; parts: number; file_name: string; sha256: string; size: number }[] }

async function lastBuild(app: App, recordId: number, partyId: number): Promise<LastBuild | null> {
  const rows = (
    await app.db.query<{ id: number; build_id: string; part: number; parts: number; file_name: string; sha256: string; size: number; created_at: Date }>(
      `SELECT id, build_id, part, parts, file_name, sha256, size::float8 AS size, created_at FROM packages
       WHERE build_id = (SELECT build_id FROM packages WHERE record_id = $1 AND party_id = $2 ORDER BY id DESC LIMIT 1) ORDER BY part`,
      [recordId, partyId],
    )
  ).rows;
  if (!rows.length) return null;
  return { buildId: rows[0]!.build_id, at: rows[0]!.created_at, parts: rows };
}

/** The last package email to this party for this record that is queued, being sent or sent. */
async function earlierSend(q: Queryable, recordId: number, partyId: number): Promise<{ outbox: number; status: string; at: Date } | null> {
  const r = (
    await q.query<{ id: number; status: string; at: Date }>(
      `SELECT id, status, coalesce(sent_at, created_at) AS at FROM outbox
       WHERE record_id = $1 AND party_id = $2 AND kind = 'package' AND status IN ('queued', 'sending', 'sent') ORDER BY id DESC LIMIT 1`,
      [recordId, partyId],
    )
  ).rows[0];
  return r ? { outbox: r.id, status: r.status, at: r.at } : null;
}

/** The reply-token secret without creating one (a dry run writes nothing): null when none exists yet. */
async function existingSecret(app: App): Promise<string | null> {
  if (app.config.mail.tokenSecret) return app.config.mail.tokenSecret;
  return (await app.db.query<{ value: string }>(`SELECT value FROM settings WHERE key = 'reply_token_secret'`)).rows[0]?.value ?? null;
}

/**
 * `pack send`: for each recipient, the package built before if nothing that goes into it changed
 * since (the one staff reviewed), else a new build — then one email per zip into the outbox, each
 * with the record tag and the recipient's reply token in the subject and a plus-address Reply-To.
 * A recipient whose package already went out is skipped unless `again`; one that fails is reported
 * and the others go on. A dry run builds what it must in a temporary folder and writes nothing.
 */
export async function sendPackageSet(app: App, actor: Actor, ref: string, opts: SendOptions): Promise<SendReport> {
  const dryRun = Boolean(opts.dryRun);
  const record = await getRecord(app.db, ref);
  const recipients = await recipientsFor(app, record, opts.recipients);
  const secret = dryRun ? await existingSecret(app) : await tokenSecret(app);
  const report: SendReport = { ref: record.ref, dryRun, mails: [], recipients: [], status: null };
  const rows: OutboxRow[] = [];
  const tmp = dryRun ? await mkdtemp(path.join(os.tmpdir(), 'dossier-dry-run-')) : null;
  try {
    for (const party of recipients) {
      const outcome: RecipientOutcome = { recipient: party.key, outcome: 'failed' };
      report.recipients.push(outcome);
      try {
        const earlier = await earlierSend(app.db, record.id, party.id);
        if (earlier && !opts.again) {
          Object.assign(outcome, { outcome: 'skipped', earlier });
          continue;
        }
        if (!party.emails.length) {
          throw new DossierError('PARTY_INVALID', `${party.key} has no email address, so its package cannot be sent.`, { hint: `Add one: dossier party edit ${party.key} --add-email <address>.` });
        }
        const profile = profileFor(app.templatesDir, party, record.type);
        const prior = await lastBuild(app, record.id, party.id);
        const changes = prior ? await changesSince(app, record, party, profile, prior.at) : [];
        let data: RenderData;
        let parts: { packageId: number; part: number; parts: number; fileName: string; sha256: string; size: number }[];
        if (prior && !changes.length) {
          outcome.build = 'reused';
          data = (await renderData(app, record.ref, party.key)).data;
          // The bytes recorded at build time (the stored zip), not whatever is in the packages folder now.
          parts = prior.parts.map((p) => ({ packageId: p.id, part: p.part, parts: p.parts, fileName: p.file_name, sha256: p.sha256, size: Number(p.size) }));
        } else {
          outcome.build = prior ? 'rebuilt' : 'built';
          if (changes.length) outcome.changes = changes;
          const [pkg] = await buildPackages(app, actor, record.ref, { recipients: [party.key], outDir: tmp ?? opts.outDir, onProgress: opts.onProgress, dryRun });
          data = pkg!.data;
          parts = pkg!.parts;
          if (pkg!.omitted.length) outcome.omitted = pkg!.omitted;
        }
        // Issued (or its life renewed) in reply_tokens, so that it can expire and be revoked; a dry run
        // only shows the token the party would get.
        const link = { recordId: record.id, partyId: party.id, ref: record.ref, partyKey: party.key };
        const token = !secret ? null : dryRun ? replyToken(secret, record.ref, party.key) : await issueReplyToken(app.db, secret, link);
        const mails: SentMail[] = [];
        const prepared = parts.map((part) => {
          // A party known only by its address (`share --email` without --name) is not greeted by it.
          const name = party.name.includes('@') ? null : party.name;
          const parted = { ...data, specials: { ...data.specials, $recipient_name: name, $part: part.part, $parts: part.parts, $archive: part.fileName } };
          const partNote = part.parts > 1 ? renderText(profile.email.part_note, parted, { name: `${path.basename(profile.file)} email.part_note` }).trim() : '';
          const d = { ...parted, specials: { ...parted.specials, $part_note: partNote } };
          const read = (f: string) => readFileSync(path.join(profile.dir, f), 'utf8');
          const subjectText = renderText(profile.email.subject, d, { name: `${path.basename(profile.file)} email.subject` });
          const subject = `${token ? subjectTag(record.ref, token) : `[${record.ref} ······]`} ${subjectText}${partNote ? ` (${partNote})` : ''}`;
          const text = renderText(read(profile.email.text), d, { name: profile.email.text });
          const html = profile.email.html ? renderText(read(profile.email.html), d, { name: profile.email.html, html: true }) : undefined;
          return { part, subject, text, html };
        });
        if (dryRun) {
          for (const m of prepared) mails.push({ recipient: party.key, to: party.emails, subject: m.subject, part: m.part.part, parts: m.part.parts, attachment: m.part.fileName, bytes: m.part.size, outbox: null });
          outcome.outcome = 'dry-run';
        } else {
          await withTransaction(app.db, async (c) => {
            // Under the record's lock: a second `pack send` running alongside finds these rows.
            await getRecord(c, record.ref, { forUpdate: true });
            const raced = await earlierSend(c, record.id, party.id);
            if (raced && (!opts.again || !earlier || raced.outbox !== earlier.outbox)) {
              Object.assign(outcome, { outcome: 'skipped', earlier: raced });
              return;
            }
            for (const m of prepared) {
              const row = await enqueueMail(app, c, actor, {
                recordId: record.id,
                partyId: party.id,
                packageId: m.part.packageId,
                kind: 'package',
                to: party.emails,
                replyTo: replyAddress(app.config.mail.intakeAddress, record.ref, token!),
                subject: m.subject,
                text: m.text,
                ...(m.html ? { html: m.html } : {}),
                // The stored zip by reference: the worker streams it into the email when it sends.
                attachments: [{ filename: m.part.fileName, blob: { sha256: m.part.sha256, size: m.part.size }, contentType: 'application/zip' }],
                automatic: false,
              });
              rows.push(row);
              mails.push({ recipient: party.key, to: party.emails, subject: m.subject, part: m.part.part, parts: m.part.parts, attachment: m.part.fileName, bytes: m.part.size, outbox: row.id });
            }
            outcome.outcome = 'sent';
          });
        }
        report.mails.push(...mails);
      } catch (err) {
        if (!isDossierError(err)) throw err; // a bug or the database gone: stop, do not guess
        Object.assign(outcome, { outcome: 'failed', code: err.code, message: err.message + (err.hint ? ` (${err.hint})` : '') });
      }
    }
    if (rows.length) report.status = await statusOnSend(app, actor, record, report);
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
  // One INSERT of the mail jobs (no pg-boss started here); a row without a job is queued by the worker's sweep.
  if (rows.length) await queueMail(app.db, rows.map((r) => r.id));
  return report;
}

/** Moves the record to its type's statusOnSend once packages went out, where the transitions allow. */
async function statusOnSend(app: App, actor: Actor, record: RecordRow, report: SendReport): Promise<SendReport['status']> {
  const wanted = app.config.recordTypes[record.type]?.statusOnSend;
  if (!wanted) return null;
  const to = report.recipients.filter((r) => r.outcome === 'sent').map((r) => r.recipient);
  return withTransaction(app.db, async (c) => {
    const now = await getRecord(c, record.ref, { forUpdate: true });
    if (now.status === wanted) return null;
    if (!transitionAllowed(app.config, now.type, now.status, wanted)) return { stays: now.status, wanted, why: `a ${now.type} cannot go from "${now.status}" to "${wanted}"` };
    const r = await changeStatusIn(c, app.config, actor, { ref: now.ref, status: wanted, reason: `packages sent to ${to.join(', ')}` });
    return { from: r.from, to: wanted };
  });
}

/**
 * The packages' emails, as `pack send` queues them, for callers that want only the mail (the worker's
 * `pack send --background` job, `share`, the demo): a recipient that failed fails the call, after
 * the others went out (a retry skips those: they were sent).
 */
export async function sendPackages(app: App, actor: Actor, ref: string, opts: SendOptions): Promise<SentMail[]> {
  const report = await sendPackageSet(app, actor, ref, opts);
  const failed = report.recipients.filter((r) => r.outcome === 'failed');
  if (failed.length === 1 && report.recipients.length === 1) throw new DossierError(failed[0]!.code as ErrorCode, failed[0]!.message!);
  if (failed.length) throw incomplete(report);
  return report.mails;
}

export function incomplete(report: SendReport): DossierError {
  const failed = report.recipients.filter((r) => r.outcome === 'failed');
  const done = report.recipients.length - failed.length;
  return new DossierError('PACKAGES_INCOMPLETE', `${report.ref}: ${failed.length} of ${report.recipients.length} recipient(s) failed${done ? ` (the other ${done} went ahead)` : ''}:\n  - ${failed.map((f) => `${f.recipient}: ${f.code} ${f.message}`).join('\n  - ')}`, {
    hint: 'Fix each one and run the command again for those recipients (--recipient <party>); the ones that went ahead are not sent twice.',
    details: report,
  });
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
  if (!mails.length) {
    throw new DossierError('PACKAGE_ALREADY_SENT', `${record.ref}'s package for ${party.key} (${email}) was sent before; nothing was sent now.`, {
      hint: `To send it again: dossier pack send ${record.ref} --recipient ${party.key} --again.`,
    });
  }
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
