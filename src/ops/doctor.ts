import { randomBytes } from 'node:crypto';
import { constants, existsSync, statSync } from 'node:fs';
import { access, open as openFile, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ImapFlow } from 'imapflow';
import { openApp, redactUrl, type App, type OpenAppOptions } from '../app.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { readMigrations } from '../db/migrate.js';
import { checkTemplates, templateFiles, type LintProblem } from '../documents/lint.js';
import { isDossierError } from '../errors.js';
import { imapClient, type MailboxConfig } from '../inbound/imap.js';
import { maildirPath } from '../inbound/maildir.js';
import { transportFor } from '../outbound/outbox.js';
import { secretFingerprint, secretMismatch, tokensIssued } from '../outbound/settings.js';
import { SendError } from '../outbound/transports.js';
import { formatProblem, loadRoles, loadSchemaFile, roleProblems, ROLES_FILE } from '../schemas/load.js';

// `dossier doctor`: every part of an installation checked once, each answering OK / WARN / FAIL with
// what to fix. The configuration is loaded here first (not through openApp) so that a broken file
// is one FAIL line rather than the error that stops every other command; the database is opened
// without migrating (a diagnosis must not change the schema) and the checks that need no database
// (mail servers, directories) run even when it is down. Every check has a time limit, so one dead
// server cannot hang the command.

export type CheckStatus = 'OK' | 'WARN' | 'FAIL' | 'SKIP';

export interface CheckResult {
  /** config, database, migrations, pg-boss, blobs, maildir, imap:<mailbox>, mail transport, sms, staff auth, reply tokens, field schemas, field roles, templates */
  name: string;
  status: CheckStatus;
  message: string;
  hint?: string;
  /** The first few problems, for checks that count them. */
  details?: string[];
  ms: number;
}

export interface DoctorReport {
  ok: boolean;
  counts: Record<CheckStatus, number>;
  checks: CheckResult[];
}

export interface DoctorOptions extends OpenAppOptions {
  /** Per-check limit for anything that talks to a server (default 10 s). */
  timeoutMs?: number;
  /**
   * Opens the app, runs fn, closes it. The CLI passes its session's withApp, so that a signal during
   * the checks still stops the embedded server; tests and scripts can leave the default.
   */
  withApp?: (options: OpenAppOptions, fn: (app: App) => Promise<void>) => Promise<void>;
}

type Outcome = Omit<CheckResult, 'name' | 'ms'>;

const SHOWN = 5; // problems listed per check; the count says how many there are in all

const ok = (message: string): Outcome => ({ status: 'OK', message });
const warn = (message: string, hint: string): Outcome => ({ status: 'WARN', message, hint });
const fail = (message: string, hint: string, details?: string[]): Outcome => ({ status: 'FAIL', message, hint, ...(details?.length ? { details } : {}) });

class TimedOut extends Error {}

/** A catalogue error as a check: its first line the message, the listed problems (" - …") the details. */
function fromError(err: unknown, fallbackHint: string): Outcome {
  if (!isDossierError(err)) return fail(`unexpected error: ${(err as Error)?.message ?? String(err)}`, fallbackHint);
  const [first, ...rest] = err.message.split('\n');
  return fail(first!, err.hint ?? fallbackHint, rest.map((l) => l.replace(/^\s*-\s*/, '')).filter(Boolean));
}

/**
 * Runs one check under a time limit. `onCancel` registers what stops the work (closing a socket)
 * when the limit is reached; it also runs after a normal finish, as a safety net.
 */
async function runCheck(name: string, limitMs: number, timeoutHint: string, fn: (onCancel: (stop: () => void) => void) => Promise<Outcome>): Promise<CheckResult> {
  const started = Date.now();
  const stops: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  let outcome: Outcome;
  try {
    outcome = await Promise.race([
      fn((stop) => stops.push(stop)),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new TimedOut()), limitMs))),
    ]);
  } catch (err) {
    if (err instanceof TimedOut) outcome = fail(`no answer within ${Math.round(limitMs / 1000)} s`, timeoutHint);
    else outcome = fromError(err, 'This may be a bug: run with DOSSIER_DEBUG=1 and report it.');
  } finally {
    clearTimeout(timer);
    for (const stop of stops) {
      try {
        stop();
      } catch {
        /* already closed */
      }
    }
  }
  return { name, ...outcome, ms: Date.now() - started };
}

const skipped = (name: string, why: string): CheckResult => ({ name, status: 'SKIP', message: `not checked: ${why}`, ms: 0 });

/** A directory we will write into: an existing one gets a real write (catches read-only mounts and root-squashed NFS, which access() does not); a missing one must be creatable. */
async function writableDir(dir: string): Promise<{ ok: boolean; message: string }> {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) return { ok: false, message: `${dir} is not a directory` };
    const probe = path.join(dir, `.dossier-doctor-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await (await openFile(probe, 'wx')).close();
      await unlink(probe);
      return { ok: true, message: `${dir} is writable` };
    } catch (err) {
      return { ok: false, message: `${dir} is not writable: ${(err as Error).message}` };
    }
  }
  let parent = path.dirname(dir);
  while (!existsSync(parent) && path.dirname(parent) !== parent) parent = path.dirname(parent);
  try {
    await access(parent, constants.W_OK);
    return { ok: true, message: `${dir} does not exist yet; it will be created (in ${parent}, which is writable)` };
  } catch {
    return { ok: false, message: `${dir} does not exist and cannot be created: ${parent} is not writable` };
  }
}

// transportFor and maildirPath read only the configuration and the home directory, so they can be
// asked before (or without) a database.
type Site = Pick<App, 'config' | 'home'>;
const asApp = (site: Site) => site as App;

// ── checks that need only the configuration ─────────────────────────────────────────────────────

async function checkMaildir(site: Site): Promise<Outcome> {
  const dir = maildirPath(asApp(site));
  const setting = site.config.intake.maildir ? 'intake.maildir' : 'DOSSIER_HOME (the Maildir is <home>/inbox)';
  if (!existsSync(dir)) {
    const w = await writableDir(dir);
    return w.ok ? ok(`Maildir ${dir} does not exist yet; the worker creates it at its first pass`) : fail(w.message, `Fix the permissions or set ${setting} to a writable place.`);
  }
  const missing = ['new', 'cur', 'tmp'].filter((d) => !existsSync(path.join(dir, d)));
  if (missing.length) return warn(`${dir} is not a Maildir yet (no ${missing.join('/, ')}/)`, 'The worker creates the folders at its first pass; an MTA delivering there needs them first.');
  // The worker moves messages out of new/ and cur/ (rename needs write access to both) and its own
  // .Processed/.Quarantine folders are created beside them.
  for (const d of [dir, path.join(dir, 'new'), path.join(dir, 'cur')]) {
    try {
      await access(d, constants.W_OK);
    } catch {
      return fail(`${d} is not writable: messages could be read but never moved to .Processed/.Quarantine`, `Give the user running Dossier write access to ${dir}, or set ${setting}.`);
    }
  }
  const w = await writableDir(path.join(dir, 'tmp'));
  return w.ok ? ok(`Maildir ${dir} exists and is writable`) : fail(w.message, `Give the user running Dossier write access to ${dir}, or set ${setting}.`);
}

/** A readable hint for what nodemailer's verify() said. */
function smtpHint(err: SendError, s: App['config']['mail']['smtp']): string {
  const where = `${s.host}:${s.port} (security ${s.security})`;
  const text = `${err.message} ${err.response}`;
  if (err.code === 'EAUTH' || err.code === 'ENOAUTH' || err.responseCode === 535 || err.responseCode === 534) {
    return `The server at ${where} refused the login: check mail.smtp.user and mail.smtp.password (DOSSIER_MAIL__SMTP__USER / __PASSWORD).`;
  }
  if (/certificate|self[- ]signed|SSL|TLS|wrong version number/i.test(text)) {
    return `TLS failed with ${where}: check mail.smtp.security (tls on 465, starttls on 587, none for a local relay) and, for a private server's own certificate, mail.smtp.allowSelfSigned.`;
  }
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|timeout/i.test(text) || err.code === 'ECONNECTION' || err.code === 'ESOCKET' || err.code === 'ETIMEDOUT' || err.code === 'EDNS') {
    return `Nothing usable answers at ${where}: is the SMTP server up? Check mail.smtp.host and mail.smtp.port (DOSSIER_MAIL__SMTP__HOST / __PORT).`;
  }
  return `Check mail.smtp (host, port, security, user, password) for ${where}.`;
}

async function checkTransport(site: Site, timeoutMs: number, onCancel: (stop: () => void) => void): Promise<Outcome> {
  const m = site.config.mail;
  // The server's answer must come within the doctor's limit, not the (longer) sending timeout. The
  // limit itself ends the check (runCheck closes the transport); nodemailer's own timers are set a
  // second past it, so on a busy machine they do not win the race with a vaguer "Greeting never received".
  const smtp = { ...m.smtp, timeoutSeconds: Math.min(m.smtp.timeoutSeconds, timeoutMs / 1000 + 1) };
  const transport = transportFor(asApp({ ...site, config: { ...site.config, mail: { ...m, smtp } } }));
  onCancel(() => transport.close());
  try {
    await transport.verify();
  } catch (err) {
    const e = err instanceof SendError ? err : new SendError((err as Error).message, { permanent: false, response: (err as Error).message });
    if (m.transport === 'file') return fail(`file transport: ${e.message}`, 'Fix the permissions of the directory or set mail.fileDir to a writable place.');
    return fail(`SMTP ${m.smtp.host}:${m.smtp.port}: ${e.response || e.message}`, smtpHint(e, m.smtp));
  } finally {
    transport.close();
  }
  if (m.transport === 'file') {
    // verify() created the directory; the write probe also catches read-only mounts.
    const dir = transport.name.slice('file:'.length);
    const w = await writableDir(dir);
    return w.ok ? ok(`file transport: .eml files go to ${dir} (writable)`) : fail(`file transport: ${w.message}`, 'Fix the permissions or set mail.fileDir to a writable place.');
  }
  return ok(`SMTP ${m.smtp.host}:${m.smtp.port} (${m.smtp.security}${m.smtp.user ? `, user ${m.smtp.user}` : ', no login'}) accepts connections`);
}

async function checkSms(site: Site): Promise<Outcome> {
  const s = site.config.notifications.sms;
  if (s.gateway === 'none') return ok('SMS are off (notifications.sms.gateway: none)');
  if (s.gateway === 'http') {
    if (!s.url) return fail('the http gateway has no URL', 'Set notifications.sms.url (or DOSSIER_NOTIFICATIONS__SMS__URL) to the provider\'s endpoint.');
    // Calling it would send a text message (and cost money): only the setting is checked.
    return ok(`http gateway: POST to ${redactUrl(s.url)} (not called: it would send an SMS)`);
  }
  // The same directory as smsGateway in outbound/sms.ts.
  const dir = s.fileDir ? path.resolve(s.fileDir) : path.join(site.home, 'sms');
  const w = await writableDir(dir);
  return w.ok ? ok(`file gateway: ${w.message}`) : fail(`file gateway: ${w.message}`, 'Fix the permissions or set notifications.sms.fileDir to a writable place.');
}

/** Host names that can only be placeholders: the shipped example, and the reserved TLDs of RFC 2606/6761. */
function placeholderHost(name: string): boolean {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  return n === 'mx.dossier.example' || n === 'localhost' || /\.(example|invalid|test|localhost)$/.test(n);
}

/** How staff mail is authenticated (intake.staffAuth): FAIL for a setting that trusts a placeholder or nothing real. */
export function checkStaffAuth(config: App['config']): Outcome {
  const s = config.intake.staffAuth;
  const staff = config.mail.staff;
  const who = staff.length ? `staff ${staff.join(', ')}` : 'no staff addresses';
  if (s.mode === 'dkim') {
    const msg = `dkim: Dossier verifies the DKIM signature of the From domain itself (mailauth); ${who}`;
    return staff.length ? ok(msg) : warn(msg, 'No decision can be applied until mail.staff lists the managers\' addresses.');
  }
  const hint = 'Set intake.staffAuth.trustedAuthServId to the authserv-id your MTA writes in Authentication-Results and intake.staffAuth.mtaHostname to the name in the "by" clause of its Received header (README.md, Security) — or use mode: dkim.';
  const missing = [!s.trustedAuthServId && 'trustedAuthServId', !s.mtaHostname && 'mtaHostname'].filter(Boolean);
  if (missing.length) return fail(`mta: ${missing.join(' and ')} not set, so no staff mail can be verified: the setting trusts nothing real`, hint);
  const fake = [s.trustedAuthServId!, s.mtaHostname!].filter(placeholderHost);
  if (fake.length) return fail(`mta: trusts ${[...new Set(fake)].join(', ')}, a placeholder: anyone can write an Authentication-Results with that name`, hint);
  return ok(`mta: trusts Authentication-Results by ${s.trustedAuthServId} above a Received by ${s.mtaHostname}; ${who}`);
}

/** The reply-token secret: read only (nothing is generated here). FAIL when tokens are out and their secret is gone or changed. */
async function checkReplyTokens(app: App): Promise<Outcome> {
  const m = app.config.mail;
  const get = async (key: string) => (await app.db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key])).rows[0]?.value ?? null;
  const counts = (
    await app.db.query<{ total: number; revoked: number; expired: number }>(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE revoked_at IS NOT NULL)::int AS revoked,
              count(*) FILTER (WHERE revoked_at IS NULL AND issued_at + make_interval(days => $1) <= now())::int AS expired FROM reply_tokens`,
      [m.tokenDays],
    )
  ).rows[0]!;
  const tally = `${counts.total - counts.revoked - counts.expired} token(s) valid, ${counts.expired} expired, ${counts.revoked} revoked (valid ${m.tokenDays} days after sending)`;
  const current = m.tokenSecret ?? (await get('reply_token_secret'));
  const restore = 'Restore the secret that issued the tokens (mail.tokenSecret or the settings row reply_token_secret); to change it on purpose, follow README.md, Security: rotating the token secret.';
  if (!current) {
    if (await tokensIssued(app.db)) return fail('reply tokens were issued, but their secret is gone (no mail.tokenSecret, no reply_token_secret in the database): every reply with a token would be refused', restore);
    return ok('no secret yet: one is generated when the first package is sent');
  }
  const marks = [current, ...m.previousTokenSecrets].map(secretFingerprint);
  const mismatch = await secretMismatch(app.db, { current, previous: m.previousTokenSecrets.filter((s) => s !== current) });
  if (mismatch) return fail(mismatch, restore);
  const where = m.tokenSecret ? 'mail.tokenSecret' : 'kept in the database';
  return ok(`secret ${where} (fingerprint ${marks[0]}${m.previousTokenSecrets.length ? `, ${m.previousTokenSecrets.length} previous still read` : ''}); ${tally}`);
}

/** The folder as the server lists it, compared the way pollImap's ensureFolder does (the server's own separator). */
function findFolder(list: { path: string; delimiter: string }[], folder: string): string | null {
  const want = folder.split('/').join('\u0000');
  const hit = list.find((m) => {
    const parts = m.path.split(m.delimiter || '/');
    return parts.join('\u0000') === want || (folder.toUpperCase() === 'INBOX' && m.path.toUpperCase() === 'INBOX');
  });
  return hit?.path ?? null;
}

async function checkMailbox(mb: MailboxConfig, index: number, onCancel: (stop: () => void) => void): Promise<Outcome> {
  const setting = `intake.mailboxes[${index}]`;
  const where = `${mb.user}@${mb.host}:${mb.port}`;
  const client: ImapFlow = imapClient(mb);
  client.on('error', () => {}); // a socket error after the check is over must not crash the CLI
  onCancel(() => client.close());
  try {
    try {
      await client.connect();
    } catch (err) {
      const e = err as Error & { authenticationFailed?: boolean; responseText?: string; code?: string };
      const said = e.responseText || e.message;
      if (e.authenticationFailed) {
        return fail(`mailbox "${mb.name}": login as ${where} refused: ${said}`, `Check the user and password of mailbox "${mb.name}": ${setting}.user and ${setting}.password (or DOSSIER_INTAKE__MAILBOXES).`);
      }
      if (/certificate|self[- ]signed|SSL|TLS|wrong version number/i.test(said)) {
        return fail(`mailbox "${mb.name}": TLS with ${mb.host}:${mb.port} failed: ${said}`, `Check ${setting}.security (tls on 993, starttls or none on 143) and ${setting}.allowSelfSigned for mailbox "${mb.name}".`);
      }
      return fail(`mailbox "${mb.name}": cannot connect to ${mb.host}:${mb.port}: ${said}${e.code ? ` (${e.code})` : ''}`, `Is the IMAP server up? Check ${setting}.host, .port and .security for mailbox "${mb.name}".`);
    }
    const list = await client.list();
    const folder = findFolder(list, mb.folder);
    if (!folder) {
      return fail(`mailbox "${mb.name}": logged in as ${where}, but there is no folder "${mb.folder}"`, `Create it or set ${setting}.folder (folders there: ${list.map((m) => m.path).slice(0, 10).join(', ')}).`);
    }
    const st = await client.status(folder, { messages: true });
    const notes = [`logged in as ${where}`, `${folder}: ${st ? (st.messages ?? '?') : '?'} message(s) waiting`];
    // The worker creates the processed and quarantine folders at its first pass; doing it here
    // proves that it can (the server may refuse, e.g. a read-only account or a reserved name).
    for (const [key, name] of [['processedFolder', mb.processedFolder], ['quarantineFolder', mb.quarantineFolder]] as const) {
      if (findFolder(list, name)) {
        notes.push(`${name} exists`);
        continue;
      }
      try {
        await client.mailboxCreate(name.split('/'));
        notes.push(`${name} was missing: created it`);
      } catch (err) {
        const e = err as Error & { responseText?: string };
        return fail(`mailbox "${mb.name}": ${name} does not exist and cannot be created: ${e.responseText || e.message}`, `Create the folder on the server, or set ${setting}.${key} to a folder that exists.`);
      }
    }
    return ok(`mailbox "${mb.name}": ${notes.join('; ')}`);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

// ── checks that need the database ───────────────────────────────────────────────────────────────

async function checkDatabase(app: App): Promise<Outcome> {
  const r = (await app.db.query<{ v: string; db: string }>('SELECT current_setting(\'server_version\') AS v, current_database() AS db')).rows[0]!;
  const where = app.embedded ? `embedded server in ${app.home}` : redactUrl(app.config.database.url ?? '');
  return ok(`PostgreSQL ${r.v}, database ${r.db} (${where})`);
}

async function checkMigrations(app: App): Promise<Outcome> {
  const files = await readMigrations();
  const hasTable = (await app.db.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`)).rows[0]!.t;
  const applied = hasTable ? (await app.db.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations ORDER BY version')).rows : [];
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  const changed = files.filter((f) => byVersion.has(f.version) && byVersion.get(f.version)!.checksum !== f.checksum);
  if (changed.length) {
    return fail(`applied migration(s) changed since: ${changed.map((f) => f.name).join(', ')}`, 'Never edit an applied migration: restore the file and put the change in a new numbered file.');
  }
  const known = new Set(files.map((f) => f.version));
  const unknown = applied.filter((a) => !known.has(a.version));
  if (unknown.length) return warn(`the database has migration(s) this Dossier does not know: ${unknown.map((a) => a.name).join(', ')}`, 'A newer Dossier migrated this database: upgrade this installation.');
  const pending = files.filter((f) => !byVersion.has(f.version));
  if (pending.length) return warn(`${pending.length} migration(s) not applied: ${pending.map((f) => f.name).join(', ')}`, 'Run `dossier db migrate` (every other command also applies them when it starts).');
  return ok(`schema at version ${files.at(-1)?.version ?? 0} (${files.length} migration(s), all applied)`);
}

/** The pg-boss schema version this installation's pg-boss expects (its package.json says). */
function expectedBossSchema(): number | null {
  try {
    return (createRequire(import.meta.url)('pg-boss/package.json') as { pgboss?: { schema?: number } }).pgboss?.schema ?? null;
  } catch {
    return null;
  }
}

async function checkBoss(app: App): Promise<Outcome> {
  const exists = (await app.db.query<{ t: string | null }>(`SELECT to_regclass('pgboss.version')::text AS t`)).rows[0]!.t;
  if (!exists) return warn('no pg-boss schema yet: nothing has been queued or run here', 'It is created when a worker first starts: `dossier worker --until-idle`.');
  const version = (await app.db.query<{ version: number }>('SELECT max(version) AS version FROM pgboss.version')).rows[0]?.version ?? null;
  const queues = (await app.db.query<{ name: string }>('SELECT name FROM pgboss.queue ORDER BY name')).rows.map((r) => r.name);
  const expected = expectedBossSchema();
  const what = `schema pgboss v${version ?? '?'}, queue(s): ${queues.join(', ') || 'none yet'}`;
  if (expected !== null && version !== null && version < expected) return warn(`${what}; this pg-boss expects v${expected}`, 'The next worker start migrates it.');
  if (expected !== null && version !== null && version > expected) return warn(`${what}; this pg-boss only knows v${expected}`, 'A newer Dossier (pg-boss) migrated this database: upgrade this installation.');
  return ok(what);
}

async function checkBlobs(app: App): Promise<Outcome> {
  // Always the same bytes: the store keeps one copy by content, so repeated runs add nothing.
  const bytes = Buffer.from('dossier doctor: blob store check\n');
  const stored = await app.blobs.put(Readable.from([bytes]));
  const chunks: Buffer[] = [];
  for await (const c of await app.blobs.open(stored.sha256)) chunks.push(Buffer.from(c as Buffer));
  const back = Buffer.concat(chunks);
  const where = 'root' in app.blobs ? ` in ${String((app.blobs as { root: unknown }).root)}` : '';
  if (!back.equals(bytes)) return fail(`a test blob read back differs from what was written${where}`, 'The storage under the blob store is damaging files: check the disk.');
  return ok(`wrote and read back a test blob${where}`);
}

async function checkSchemas(app: App): Promise<Outcome> {
  const r = await app.schemas.validate();
  if (r.problems.length) {
    return fail(`${r.problems.length} problem(s) in ${r.files.length} schema file(s) under ${app.schemas.dir}`, 'Run `dossier schema validate` for the full list; each line gives the file, the line and the field.', r.problems.slice(0, SHOWN).map(formatProblem));
  }
  if (!r.files.length) return warn(`no field schema files in ${app.schemas.dir}`, 'Set schemas.dir to the folder with <type>/v<N>.yaml files.');
  return ok(`${r.files.length} schema file(s), no problems`);
}

/**
 * Field roles (intake's own check): every record type that decisions change (statusRules) declares
 * its decision fields in field-schemas/roles.yaml, each present in every version; a type without
 * client-name roles cannot be found by its client's name (a warning: tags still work).
 */
async function checkFieldRoles(app: App): Promise<Outcome> {
  const { roles, problems } = loadRoles(app.schemas.dir);
  const file = path.join(app.schemas.dir, ROLES_FILE);
  const found: string[] = problems.map(formatProblem);
  for (const type of Object.keys(app.config.recordTypes)) {
    const r = roles[type] ?? {};
    if (app.config.statusRules[type] && (!r.decision || !r.decision_date)) found.push(`${file}: ${type} has no decision/decision_date roles, so a forwarded decision cannot be applied to it`);
    const versions = app.schemas.files(type).flatMap((f) => loadSchemaFile(f.file).schema ?? []);
    found.push(...roleProblems(roles, versions, file).map(formatProblem));
  }
  if (found.length) return fail(`${found.length} problem(s) with the field roles`, `Fix ${file} (roles: field-schemas/README.md).`, found.slice(0, SHOWN));
  const nameless = Object.keys(app.config.recordTypes).filter((t) => !Object.keys(roles[t] ?? {}).some((k) => k.startsWith('client_') || k === 'vehicle_plate'));
  if (nameless.length) return warn(`no client-name roles for ${nameless.join(', ')}: staff mail about them must keep the [REF] tag`, `Declare client_name or client_last_name/client_first_name in ${file}.`);
  return ok(`roles declared for ${Object.keys(roles).join(', ')}`);
}

async function checkTemplateLint(app: App): Promise<Outcome> {
  const files = templateFiles(app.templatesDir);
  if (!files.length) return warn(`no templates in ${app.templatesDir}`, 'Set templates.dir to the folder with the recipients\' templates.');
  const r = await checkTemplates(app, files);
  if (r.problems.length) {
    const show = (p: LintProblem) => `${path.relative(app.templatesDir, p.file)}: ${p.where}: ${p.message}`;
    return fail(`${r.problems.length} problem(s) in ${new Set(r.problems.map((p) => p.file)).size} of ${files.length} template(s)`, 'Run `dossier template check` for the full list (templates/README.md has the tag syntax).', r.problems.slice(0, SHOWN).map(show));
  }
  return ok(`${files.length} template(s) checked against their schema versions, no problems`);
}

// ── the whole run ───────────────────────────────────────────────────────────────────────────────

const defaultWithApp = async (options: OpenAppOptions, fn: (app: App) => Promise<void>) => {
  const app = await openApp(options);
  try {
    await fn(app);
  } finally {
    await app.close();
  }
};

export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  // Local work (parsing every template and schema) is slow on a busy machine but never hangs.
  const localMs = Math.max(timeoutMs, 120_000);
  const checks: CheckResult[] = [];

  let loaded: LoadedConfig;
  const started = Date.now();
  try {
    loaded = loadConfig(options);
  } catch (err) {
    const o = fromError(err, 'Fix the configuration.');
    checks.push({ name: 'config', ...o, hint: `${o.hint} Nothing else was checked: every other check needs a valid configuration.`, ms: Date.now() - started });
    return summarise(checks);
  }
  const { config, files, home } = loaded;
  // Settings only: DOSSIER_CONFIG, DOSSIER_USER and DOSSIER_DEBUG are not (see config/load.ts).
  const envCount = Object.keys(options.env ?? process.env).filter((k) => (k.startsWith('DOSSIER_') && !['DOSSIER_CONFIG', 'DOSSIER_USER', 'DOSSIER_DEBUG'].includes(k)) || k === 'DATABASE_URL').length;
  checks.push({ name: 'config', status: 'OK', message: `valid; file(s) read: ${files.join(', ')}${envCount ? `; ${envCount} setting(s) from DOSSIER_*/DATABASE_URL variables` : ''}`, ms: Date.now() - started });
  const site: Site = { config, home };

  // Without the database: the mail servers and the directories.
  const independent = Promise.all([
    runCheck('maildir', localMs, 'The file system is not answering: check the disk holding the Maildir.', () => checkMaildir(site)),
    ...config.intake.mailboxes.map((mb, i) =>
      runCheck(`imap:${mb.name}`, timeoutMs, `The IMAP server at ${mb.host}:${mb.port} did not answer: is it up, and are intake.mailboxes[${i}].host/port/security right for mailbox "${mb.name}"?`, (onCancel) => checkMailbox(mb, i, onCancel)),
    ),
    runCheck(
      'mail transport',
      timeoutMs,
      config.mail.transport === 'smtp' ? `The SMTP server at ${config.mail.smtp.host}:${config.mail.smtp.port} did not answer: is it up? Check mail.smtp.host, mail.smtp.port and mail.smtp.security.` : 'The file system is not answering: check the disk holding mail.fileDir.',
      (onCancel) => checkTransport(site, timeoutMs, onCancel),
    ),
    runCheck('sms', localMs, 'The file system is not answering: check the disk holding notifications.sms.fileDir.', () => checkSms(site)),
  ]);

  // With the database. Starting the embedded server (initdb on its first run) takes longer than
  // a network answer, so it gets the local limit.
  const dbChecks: CheckResult[] = [];
  const dependent = ['migrations', 'pg-boss', 'blobs', 'reply tokens', 'field schemas', 'field roles', 'templates'];
  const openMs = config.database.url ? timeoutMs : localMs;
  const dbHint = config.database.url
    ? 'Check that PostgreSQL is running and DATABASE_URL (or database.url) is right; leave it empty to use the embedded server.'
    : `The embedded server in ${home} did not start: see ${path.join(home, 'pg')} and its log.`;
  const openStarted = Date.now();
  let opened = false;
  let gaveUp = false;
  const withApp = options.withApp ?? defaultWithApp;
  const run = withApp({ ...options, migrate: false }, async (app) => {
    opened = true;
    if (gaveUp) return; // too late: the report is already out
    dbChecks.push({ name: 'database', ...(await checkDatabase(app).catch((err: Error) => fail(err.message, dbHint))), ms: Date.now() - openStarted });
    const [a, b] = await Promise.all([runCheck('migrations', timeoutMs, dbHint, () => checkMigrations(app)), runCheck('pg-boss', timeoutMs, dbHint, () => checkBoss(app))]);
    dbChecks.push(a, b);
    // On a database the migrations have not reached (a new one: doctor does not migrate) the
    // tables these read are missing; their errors would only repeat the migrations line.
    if (/not applied/.test(a.message)) {
      dbChecks.push(...['blobs', 'reply tokens', 'field schemas', 'field roles', 'templates'].map((n) => skipped(n, 'the database schema is not up to date (see migrations)')));
      return;
    }
    dbChecks.push(await runCheck('blobs', localMs, 'The blob store is not answering: check its disk (or the database for storage.blobs: postgres).', () => checkBlobs(app)));
    dbChecks.push(await runCheck('reply tokens', timeoutMs, dbHint, () => checkReplyTokens(app)));
    // One after the other: both parse the schema files, and lint needs the published versions synced.
    dbChecks.push(await runCheck('field schemas', localMs, 'Parsing the schema files took too long: is the machine overloaded?', () => checkSchemas(app)));
    dbChecks.push(await runCheck('field roles', localMs, 'Reading the field roles took too long: is the machine overloaded?', () => checkFieldRoles(app)));
    dbChecks.push(await runCheck('templates', localMs, 'Linting the templates took too long: is the machine overloaded?', () => checkTemplateLint(app)));
  }).then(
    () => null,
    (err: unknown) => err,
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      if (opened) return;
      gaveUp = true; // here, not after the race: the app may open in the very next tick
      resolve('timeout');
    }, openMs);
  });
  const r = await Promise.race([run, timedOut]);
  clearTimeout(timer);
  if (r === 'timeout') {
    dbChecks.push({ name: 'database', status: 'FAIL', message: `no answer within ${Math.round(openMs / 1000)} s`, hint: dbHint, ms: Date.now() - openStarted });
  } else if (r !== null) {
    dbChecks.push({ name: 'database', ...fromError(r, dbHint), ms: Date.now() - openStarted });
  }
  if (dbChecks.length === 1 && dbChecks[0]!.status === 'FAIL') dbChecks.push(...dependent.map((n) => skipped(n, 'needs the database')));

  const [maildir, ...rest] = await independent;
  const imap = rest.slice(0, config.intake.mailboxes.length);
  const [transport, sms] = rest.slice(config.intake.mailboxes.length);
  const byName = new Map(dbChecks.map((c) => [c.name, c]));
  const pick = (n: string) => byName.get(n)!;
  const staffAuth: CheckResult = { name: 'staff auth', ...checkStaffAuth(config), ms: 0 };
  checks.push(pick('database'), pick('migrations'), pick('pg-boss'), pick('blobs'), maildir!, ...imap, transport!, sms!, staffAuth, pick('reply tokens'), pick('field schemas'), pick('field roles'), pick('templates'));
  return summarise(checks);
}

function summarise(checks: CheckResult[]): DoctorReport {
  const counts: Record<CheckStatus, number> = { OK: 0, WARN: 0, FAIL: 0, SKIP: 0 };
  for (const c of checks) counts[c.status]++;
  return { ok: counts.FAIL === 0, counts, checks };
}
