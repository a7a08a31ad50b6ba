import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { Actor, App } from '../app.js';
import { DossierError, isDossierError } from '../errors.js';
import type { PartyEditOptions } from './commands/parties.js';
import type { ListOptions } from './commands/records.js';
import type { MailListOptions } from './commands/intake.js';
import { toJson, type Io } from './output.js';
import { progressBar, type OnProgress } from './progress.js';
import type { withApp as WithApp } from './session.js';

// Start-up: nothing heavy is loaded until a command runs. `dossier --help` loads commander and this
// file only; each command loads its own module (and through it exceljs, pdf-lib, imapflow, pg-boss…)
// when it is called. lazy() stands in for an imported function with one that imports on first call
// (and so returns a promise: action() awaits renderers too). bench/startup.mjs measures it.
type Fn = (...args: any[]) => any;
function lazy<M, K extends keyof M>(load: () => Promise<M>, name: K): M[K] extends (...a: infer P) => infer R ? (...a: P) => Promise<Awaited<R>> : never {
  return (async (...args: unknown[]) => ((await load())[name] as Fn)(...args)) as never;
}
const m_db_migrate = () => import('../db/migrate.js');
const m_attach = () => import('./commands/attach.js');
const m_demo = () => import('./commands/demo.js');
const m_intake = () => import('./commands/intake.js');
const m_mail = () => import('./commands/mail.js');
const m_outbox = () => import('./commands/outbox.js');
const m_pack = () => import('./commands/pack.js');
const m_where = () => import('./commands/where.js');
const m_share = () => import('./commands/share.js');
const m_evidence = () => import('./commands/evidence.js');
const checklistCmd = lazy(m_evidence, 'checklistCmd');
const checklistRequestCmd = lazy(m_evidence, 'checklistRequestCmd');
const digestCmd = lazy(m_evidence, 'digestCmd');
const docReview = lazy(m_evidence, 'docReview');
const dueCmd = lazy(m_evidence, 'dueCmd');
const evidenceCmd = lazy(m_evidence, 'evidenceCmd');
const evidenceScanCmd = lazy(m_evidence, 'evidenceScanCmd');
const remindCmd = lazy(m_evidence, 'remindCmd');
const renderChecklist = lazy(m_evidence, 'renderChecklist');
const renderDigest = lazy(m_evidence, 'renderDigest');
const renderDue = lazy(m_evidence, 'renderDue');
const renderEvidence = lazy(m_evidence, 'renderEvidence');
const renderRemind = lazy(m_evidence, 'renderRemind');
const renderRequest = lazy(m_evidence, 'renderRequest');
const renderReview = lazy(m_evidence, 'renderReview');
const renderScan = lazy(m_evidence, 'renderScan');
const checklistGate = lazy(() => import('../checklists/checklist.js'), 'checklistGate');
// Issue 17 (approvals by reply)
const m_approval = () => import('./commands/approval.js');
const approvalListCmd = lazy(m_approval, 'approvalListCmd');
const approvalStartCmd = lazy(m_approval, 'approvalStartCmd');
const renderApprovalList = lazy(m_approval, 'renderApprovalList');
const renderApprovalStarted = lazy(m_approval, 'renderApprovalStarted');
const shareRevoke = lazy(m_share, 'shareRevoke');
const renderRevoke = lazy(m_share, 'renderRevoke');
const m_documents = () => import('./commands/documents.js');
const m_schemas_bulk = () => import('../schemas/bulk.js');
const m_schema = () => import('./commands/schema.js');
const m_fields = () => import('./commands/fields.js');
const m_parties = () => import('./commands/parties.js');
const m_records = () => import('./commands/records.js');
const m_doctor = () => import('./commands/doctor.js');
const m_status = () => import('./commands/status.js');
const m_report = () => import('./commands/report.js');
const migrate = lazy(m_db_migrate, 'migrate');
const attach = lazy(m_attach, 'attach');
const renderAttach = lazy(m_attach, 'renderAttach');
const detach = lazy(m_attach, 'detach');
const renderDetach = lazy(m_attach, 'renderDetach');
const demo = lazy(m_demo, 'demo');
const mailIngest = lazy(m_intake, 'mailIngest');
const failIfIngestFailed = lazy(m_intake, 'failIfIngestFailed');
const mailList = lazy(m_intake, 'mailList');
const mailReplay = lazy(m_intake, 'mailReplay');
const mailShow = lazy(m_intake, 'mailShow');
const renderIngest = lazy(m_intake, 'renderIngest');
const renderMailList = lazy(m_intake, 'renderMailList');
const renderMailShow = lazy(m_intake, 'renderMailShow');
const outboxList = lazy(m_outbox, 'outboxList');
const outboxRetry = lazy(m_outbox, 'outboxRetry');
const outboxShow = lazy(m_outbox, 'outboxShow');
const renderOutboxShow = lazy(m_outbox, 'renderOutboxShow');
const outboxCancel = lazy(m_outbox, 'outboxCancel');
const renderCancel = lazy(m_outbox, 'renderCancel');
const renderOutbox = lazy(m_outbox, 'renderOutbox');
const packBuild = lazy(m_pack, 'packBuild');
const packSend = lazy(m_pack, 'packSend');
const packSendBackground = lazy(m_pack, 'packSendBackground');
const renderIdle = lazy(m_mail, 'renderIdle');
const renderQueuedPackages = lazy(m_pack, 'renderQueuedPackages');
const renderShare = lazy(m_pack, 'renderShare');
const shareCmd = lazy(m_pack, 'shareCmd');
const workerForever = lazy(m_mail, 'workerForever');
const workerUntilIdle = lazy(m_mail, 'workerUntilIdle');
const render = lazy(m_documents, 'render');
const renderCheck = lazy(m_documents, 'renderCheck');
const renderRendered = lazy(m_documents, 'renderRendered');
const templateCheck = lazy(m_documents, 'templateCheck');
const templateFields = lazy(m_documents, 'templateFields');
const templateInit = lazy(m_documents, 'templateInit');
const renderFields = lazy(m_documents, 'renderFields');
const renderInit = lazy(m_documents, 'renderInit');
const exportRecords = lazy(m_schemas_bulk, 'exportRecords');
const importFields = lazy(m_schemas_bulk, 'importFields');
const importRecords = lazy(m_schemas_bulk, 'importRecords');
const parseVersion = lazy(m_schema, 'parseVersion');
const fieldSet = lazy(m_fields, 'fieldSet');
const fieldShow = lazy(m_fields, 'fieldShow');
const fieldUnset = lazy(m_fields, 'fieldUnset');
const recordMigrate = lazy(m_fields, 'recordMigrate');
const renderChanges = lazy(m_fields, 'renderChanges');
const renderFieldView = lazy(m_fields, 'renderFieldView');
const renderMigrations = lazy(m_fields, 'renderMigrations');
const renderDiff = lazy(m_schema, 'renderDiff');
const renderPublish = lazy(m_schema, 'renderPublish');
const renderSchemaList = lazy(m_schema, 'renderSchemaList');
const renderSchemaShow = lazy(m_schema, 'renderSchemaShow');
const renderValidate = lazy(m_schema, 'renderValidate');
const schemaDiff = lazy(m_schema, 'schemaDiff');
const schemaList = lazy(m_schema, 'schemaList');
const schemaPublish = lazy(m_schema, 'schemaPublish');
const schemaShow = lazy(m_schema, 'schemaShow');
const schemaValidate = lazy(m_schema, 'schemaValidate');
const partyAdd = lazy(m_parties, 'partyAdd');
const partyEdit = lazy(m_parties, 'partyEdit');
const renderPartyEdit = lazy(m_parties, 'renderPartyEdit');
const partyImport = lazy(m_parties, 'partyImport');
const partyList = lazy(m_parties, 'partyList');
const recordLink = lazy(m_parties, 'recordLink');
const renderImport = lazy(m_parties, 'renderImport');
const renderParties = lazy(m_parties, 'renderParties');
const recordCreate = lazy(m_records, 'recordCreate');
const recordFind = lazy(m_records, 'recordFind');
const recordUnlink = lazy(m_records, 'recordUnlink');
const renderUnlink = lazy(m_records, 'renderUnlink');
const recordHistoryCmd = lazy(m_records, 'recordHistoryCmd');
const recordList = lazy(m_records, 'recordList');
const recordShow = lazy(m_records, 'recordShow');
const recordStatus = lazy(m_records, 'recordStatus');
const renderHistory = lazy(m_records, 'renderHistory');
const renderRecord = lazy(m_records, 'renderRecord');
const renderRecordList = lazy(m_records, 'renderRecordList');
const doctor = lazy(m_doctor, 'doctor');
const failIfUnhealthy = lazy(m_doctor, 'failIfUnhealthy');
const renderDoctor = lazy(m_doctor, 'renderDoctor');
const renderStatus = lazy(m_status, 'renderStatus');
const status = lazy(m_status, 'status');
const renderReport = lazy(m_report, 'renderReport');
const report = lazy(m_report, 'report');

/** The version in package.json, read once for --version (from src/ and from dist/ alike). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

// The CLI file only maps flags to the command functions; one handler at the end turns errors into
// exit codes and readable messages (no stack traces for user mistakes).

export interface CliEnv {
  io: Io;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

interface GlobalOpts { config?: string; json?: boolean }
interface ImportFlags { format?: string; encoding?: string; strict?: boolean }

export function buildProgram(cli: CliEnv): Command {
  const { io } = cli;
  const program = new Command('dossier')
    .description('Claims and credit deals: records, versioned fields, document packages, mail in and out.')
    .option('-c, --config <file>', 'configuration file laid over the defaults (also DOSSIER_CONFIG)')
    .option('--json', 'machine-readable output')
    .version(`dossier ${packageVersion()} (node ${process.version})`, '-V, --version', 'the version of Dossier and of Node')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  // The app (configuration, database) and the audit actor are loaded with the first command that needs them.
  let actorOf: ((env: NodeJS.ProcessEnv) => Actor) | null = null;
  const withApp: typeof WithApp = async (options, fn) => {
    const [session, appModule] = await Promise.all([import('./session.js'), import('../app.js')]);
    actorOf = appModule.cliActor;
    return session.withApp(options, fn);
  };
  /** Opens the app for one command, prints its result as JSON or as text, closes the app. */
  const action =
    <A extends unknown[]>(fn: (app: App, ...args: A) => Promise<unknown>, render: (result: never) => string | Promise<string>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const g = cmd.optsWithGlobals<GlobalOpts>();
      await withApp({ configPath: g.config, env: cli.env, cwd: cli.cwd, onLog: (l) => io.err(l) }, async (app) => {
        // The command object comes last: most actions ignore it, the imports read --json from it.
        const result = await fn(app, ...(args as A));
        io.out(g.json ? toJson(result) : await render(result as never));
      });
    };
  const actor = () => actorOf!(cli.env);
  /** Imports tell what they assumed (encoding, ignored columns) on stderr and show a bar on a terminal. */
  const withImportProgress = async <T>(cmd: Command, run: (extra: { onNote: (l: string) => void; onProgress: OnProgress }) => Promise<T>): Promise<T> => {
    const bar = await progressBar(io, Boolean(cmd.optsWithGlobals<GlobalOpts>().json));
    try {
      return await run({ onNote: (l) => io.err(l), onProgress: bar.onProgress });
    } finally {
      bar.stop();
    }
  };

  const record = program.command('record').description('create, find and move records (deals, claims)');
  record
    .command('create <type>')
    .description('create a record of a type from the configuration (deal, claim, …); prints its reference')
    .option('-t, --title <title>', 'a title staff will recognise')
    .action(action((app, type: string, o: { title?: string }) => recordCreate(app, actor(), { type, title: o.title }), (r: { ref: string }) => r.ref));
  record
    .command('show <ref>')
    .description('a record with its parties and attachments')
    .action(action((app, ref: string) => recordShow(app, ref), renderRecord));
  record
    .command('list')
    .description('records, newest first, a page at a time')
    .option('--type <type>', 'only this type')
    .option('--status <status>', 'only this status')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--offset <n>', 'skip this many first')
    .option('--before <ref>', 'only records older than this one (the next page)')
    .action(async (o: ListOptions, cmd: Command) => {
      let home = '';
      await action(async (app) => ((home = app.home), recordList(app, o)), (rows: Awaited<ReturnType<typeof recordList>>) => renderRecordList(rows, { home, limit: o.limit }))(cmd);
    });
  record
    .command('status <ref> <status>')
    .description('move a record to another status (only along the configured transitions)')
    .option('-r, --reason <text>', 'why, for the history')
    .action(
      action(
        (app, ref: string, status: string, o: { reason?: string }) => recordStatus(app, actor(), { ref, status, reason: o.reason }),
        (r: { ref: string; from: string; to: string }) => `${r.ref}: ${r.from} → ${r.to}`,
      ),
    );
  record
    .command('history <ref>')
    .description('every change to a record: who, when, what (old → new)')
    .action(action((app, ref: string) => recordHistoryCmd(app, ref), renderHistory));
  record
    .command('link <ref> <party>')
    .description('link a party to a record with a role')
    .requiredOption('--role <role>', 'client, recipient, participant, lawyer, … (parties.roles)')
    .action(
      action(
        (app, ref: string, party: string, o: { role: string }) => recordLink(app, actor(), { ref, party, role: o.role }),
        (r: { ref: string; party: string; role: string; created: boolean }) => `${r.ref}: ${r.party} ${r.created ? 'linked' : 'was already linked'} as ${r.role}`,
      ),
    );

  // ── staff-a (issue 16): corrections, finding, the data home ──
  record
    .command('unlink <ref> <party>')
    .description('take a party off a record (linked by mistake); its earlier mail and events stay in the history')
    .option('--role <role>', 'only this role (default: every role it has there)')
    .option('--reason <text>', 'why, for the history')
    .action(action((app, ref: string, party: string, o: { role?: string; reason?: string }) => recordUnlink(app, actor(), { ref, party, ...o }), renderUnlink));
  record
    .command('find <text>')
    .description('records where the text appears: reference, title, client or counterparty name, phone, INN/passport, any value, status, date (21.11.2026); newest first')
    .option('--type <type>', 'only this type')
    .option('--status <status>', 'only this status')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--offset <n>', 'skip this many first')
    .option('--before <ref>', 'only records older than this one (the next page)')
    .action(async (text: string, o: ListOptions, cmd: Command) => {
      await action((app) => recordFind(app, text, o), (rows: Awaited<ReturnType<typeof recordFind>>) => renderRecordList(rows, { found: true, limit: o.limit }))(cmd);
    });
  program
    .command('detach <ref> <attachment>')
    .description('take an attachment (its # in `record show`) off a record; the file and its history stay')
    .option('--reason <text>', 'why, for the history')
    .action(action((app, ref: string, id: string, o: { reason?: string }) => detach(app, actor(), { ref, id, reason: o.reason }), renderDetach));
  program
    .command('where')
    .description('which data home and configuration files commands run from here use, and why')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const { where, renderWhere } = await m_where();
      const w = where({ configPath: g.config, env: cli.env, cwd: cli.cwd });
      io.out(g.json ? toJson(w) : renderWhere(w));
    });
  // ── end staff-a ──

  record
    .command('migrate [ref]')
    .description('move a record (or --all of a type) to another published schema version; no value is ever dropped')
    .requiredOption('--to <version>', 'the target version, e.g. v2')
    .option('--all', 'every record of --type not yet on that version')
    .option('--type <type>', 'with --all: the record type')
    .action(action((app, ref: string | undefined, o: { to: string; all?: boolean; type?: string }) => recordMigrate(app, actor(), ref, o), renderMigrations));

  record
    .command('import <type> <file>')
    .description('create records from JSON (fixtures/records/*.json format), CSV or XLSX (one row a record); all or nothing')
    .option('--format <format>', 'json, csv or xlsx (default: from the file name)')
    .option('--encoding <encoding>', 'CSV: the text encoding (default: detected — BOM, UTF-8, else windows-1251 — and told)')
    .option('--strict', 'refuse columns that are not fields (default: ignore them and list them)')
    .action(
      action(
        (app, type: string, file: string, o: ImportFlags, cmd: Command) => withImportProgress(cmd, (extra) => importRecords(app, actor(), type, file, { ...o, ...extra })),
        (r: { ref: string; values: number; parties: string[] }[]) => r.map((x) => `${x.ref}: ${x.values} value(s)${x.parties.length ? `, parties ${x.parties.join(', ')}` : ''}`).join('\n') || 'Nothing to import.',
      ),
    );

  program
    .command('export <type>')
    .description('every record of a type with its base values, one row a record (XLSX or CSV; imports back with record import)')
    .requiredOption('--format <format>', 'xlsx or csv')
    .option('-o, --out <file>', 'where to write (default: <type>-export.<format>)')
    .option('--schema <version>', 'columns of this published version (default: the newest)')
    .action(
      action(
        async (app, type: string, o: { format: string; out?: string; schema?: string }) => {
          if (o.format !== 'xlsx' && o.format !== 'csv') throw new DossierError('USAGE', `--format must be xlsx or csv, not "${o.format}".`);
          return exportRecords(app, type, { format: o.format, out: o.out ?? `${type}-export.${o.format}`, version: o.schema ? await parseVersion(o.schema) : undefined });
        },
        (r: { file: string; records: number; fields: number }) => `Wrote ${r.records} record(s) × ${r.fields} field(s) to ${r.file}.`,
      ),
    );

  const field = program.command('field').description('the values of a record: base section and per-recipient overrides');
  field
    .command('set <ref> <values...>')
    .description('set values: field_id=value … (money "1 500 000,00", dates 21.11.2026 or ISO, да/нет, tables as JSON)')
    .option('-r, --recipient <party>', "set them in this recipient's section (an override, or a recipient-only field)")
    .action(action((app, ref: string, values: string[], o: { recipient?: string }) => fieldSet(app, actor(), ref, values, o), renderChanges));
  field
    .command('unset <ref> <fields...>')
    .description('clear values (with --recipient: drop the override, so the base value applies again)')
    .option('-r, --recipient <party>', "in this recipient's section")
    .action(action((app, ref: string, ids: string[], o: { recipient?: string }) => fieldUnset(app, actor(), ref, ids, o), renderChanges));
  field
    .command('import <ref> <file>')
    .description('set values from JSON ({base:{…}, recipients:{party:{…}}}), CSV or XLSX (a "recipient" column picks the section); all or nothing')
    .option('--format <format>', 'json, csv or xlsx (default: from the file name)')
    .option('--encoding <encoding>', 'CSV: the text encoding (default: detected — BOM, UTF-8, else windows-1251 — and told)')
    .option('--strict', 'refuse columns that are not fields (default: ignore them and list them)')
    .action(action((app, ref: string, file: string, o: ImportFlags, cmd: Command) => withImportProgress(cmd, (extra) => importFields(app, actor(), ref, file, { ...o, ...extra })), renderChanges));
  field
    .command('show <ref>')
    .description('effective values with provenance: inherited, overridden, stale override; who set each, when, from where')
    .option('-r, --recipient <party>', "the recipient's view: base values inherited, its overrides, its own fields")
    .option('--all', 'also empty and retired fields (retired values are never lost)')
    .option('--missing', 'only required fields that are still empty')
    .action(action((app, ref: string, o: { recipient?: string; all?: boolean; missing?: boolean }) => fieldShow(app, ref, o), renderFieldView));

  const schema = program.command('schema').description('versioned field schemas (field-schemas/<type>/v<N>.yaml)');
  schema
    .command('validate')
    .description('check every schema file: every problem with file, line and field id')
    .option('--type <type>', 'only this record type')
    .action(action((app, o: { type?: string }) => schemaValidate(app, o), renderValidate));
  schema
    .command('list')
    .description('schema versions: fields, retired fields, published or draft')
    .option('--type <type>', 'only this record type')
    .action(action((app, o: { type?: string }) => schemaList(app, o), renderSchemaList));
  schema
    .command('show <type> [version]')
    .description('the sections and fields of a version (default: the newest published)')
    .action(action((app, type: string, v: string | undefined) => schemaShow(app, type, v), renderSchemaShow));
  schema
    .command('diff <type> <from> <to>')
    .description('added, retired and changed fields between two versions, and how many records each touches')
    .action(action((app, type: string, a: string, b: string) => schemaDiff(app, type, a, b), renderDiff));
  schema
    .command('publish <type> <version>')
    .description('publish a version: its file is then immutable and new records are created on it')
    .action(action((app, type: string, v: string) => schemaPublish(app, actor(), type, v), renderPublish));

  program
    .command('render <ref>')
    .description('fill one DOCX or PDF template from a record (the base values, or a recipient\'s)')
    .requiredOption('-t, --template <path>', 'the template, e.g. templates/bank-sever/questionnaire.docx')
    .option('-r, --recipient <party>', "use this recipient's section (its overrides and own fields)")
    .option('-o, --out <file>', 'where to write (default: <ref>-<template name>)')
    .action(action((app, ref: string, o: { template: string; recipient?: string; out?: string }) => render(app, ref, o), renderRendered));

  const template = program.command('template').description('document templates');
  template
    .command('check [files...]')
    .description('lint templates against the schema versions they declare: unknown fields, loops over non-tables, ticks over non-booleans, PDF fields')
    .action(action((app, files: string[]) => templateCheck(app, files), renderCheck));
  // forms (issue 15): listing a form's fields and starting its sidecar
  template
    .command('fields <file>')
    .description("a PDF's or DOCX's fields: name, kind, options or export values, max length, box size, page; tags, checkboxes and Word legacy form fields")
    .action(action((app, file: string) => templateFields(app, file), renderFields));
  template
    .command('init <file>')
    .description('write a starting sidecar (<file>.yaml) for a recipient\'s form; a .doc or .rtf is converted to .docx once with LibreOffice first')
    .requiredOption('-r, --recipient <party>', 'the bank or insurer the form is from (its kind decides the record type)')
    .action(action((app, file: string, o: { recipient: string }) => templateInit(app, file, o), renderInit));

  const pack = program.command('pack').description('document packages per recipient: rendered documents + scans, zipped with a manifest');
  pack
    .command('build <ref>')
    .description('build the package(s) of one recipient or of all; recorded on the record')
    .option('-r, --recipient <party>', 'one recipient')
    .option('--all', 'every recipient (and lawyer) linked to the record')
    .option('-o, --out <dir>', 'where to write the zips (default: <home>/packages/<ref>)')
    .action(async (ref: string, o: { recipient?: string; all?: boolean; out?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      // Printed as soon as they are built: a recipient that failed fails the command afterwards.
      const { renderPackBuild } = await m_pack();
      const print = (rows: Parameters<typeof renderPackBuild>[0]) => io.out(g.json ? toJson(rows) : renderPackBuild(rows));
      await withApp({ configPath: g.config, env: cli.env, cwd: cli.cwd, onLog: (l) => io.err(l) }, (app) => packBuild(app, actor(), io, Boolean(g.json), ref, o, print));
    });
  pack
    .command('send <ref>')
    .description('build and queue the package email(s): record tag and reply token in the subject, split when too big')
    .option('-r, --recipient <party>', 'one recipient')
    .option('--all', 'every recipient (and lawyer) linked to the record')
    .option('--dry-run', 'show what would be sent; queue, build and record nothing')
    .option('--again', 'send to recipients whose package already went out (or is queued) once more')
    .option('--background', 'leave building and sending to a running `dossier worker` (returns at once)')
    .option('--strict', 'refuse to send while a recipient\'s checklist is incomplete (otherwise: a warning)')
    .action(async (ref: string, o: { recipient?: string; all?: boolean; dryRun?: boolean; again?: boolean; background?: boolean; strict?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const gate = (app: App) => checklistGate(app, ref, o.recipient ? [o.recipient] : 'all', { strict: o.strict, warn: (l) => io.err(l) }); // issue 17
      if (o.background) return action(async (app) => (o.dryRun ? null : await gate(app), packSendBackground(app, actor(), ref, o)), renderQueuedPackages)(cmd);
      const { renderSent, sentMails } = await m_pack();
      const print = (r: Parameters<typeof renderSent>[0]) => io.out(g.json ? toJson(sentMails(r)) : renderSent(r));
      await withApp({ configPath: g.config, env: cli.env, cwd: cli.cwd, onLog: (l) => io.err(l) }, async (app) => (await gate(app), packSend(app, actor(), io, Boolean(g.json), ref, o, print)));
    });
  // `share <ref> --email …` stays as it was (the default subcommand); `share revoke` ends a party's reply token.
  const share = program.command('share').description('share a record with someone outside (a lawyer), or revoke their reply token');
  share
    .command('send <ref>', { isDefault: true })
    .description('send the full package to someone outside (a lawyer): creates the party if needed; their replies can add documents')
    .requiredOption('--email <address>', 'their address')
    .option('--role <role>', 'their role on the record', 'lawyer')
    .option('--name <name>', 'their name, for a new party')
    .action(action((app, ref: string, o: { email: string; role: string; name?: string }) => shareCmd(app, actor(), ref, o), renderShare));
  share
    .command('revoke <ref>')
    .description('revoke the reply token a party holds for the record: their replies no longer add anything')
    .requiredOption('--party <key>', 'the party whose token ends')
    .action(action((app, ref: string, o: { party: string }) => shareRevoke(app, actor(), ref, o), renderRevoke));

  const outbox = program.command('outbox').description('every email Dossier sends, with its delivery state');
  outbox
    .command('list')
    .description('emails and their state (queued, sending, sent, failed, bounced), attempts, last server response')
    .option('--status <status>', 'only this state')
    .option('--ref <ref>', 'only this record')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--offset <n>', 'skip this many first')
    .option('--before <id>', 'only messages older than this one (the next page)')
    .action(async (o: { status?: string; ref?: string; limit?: string; offset?: string; before?: string }, cmd: Command) => {
      await action((app) => outboxList(app, o), (rows: Awaited<ReturnType<typeof outboxList>>) => renderOutbox(rows, o.limit))(cmd);
    });
  outbox
    .command('show <id>')
    .description('the email exactly as it goes out: headers and body as an .eml (queued ones too)')
    .action(action((app, id: string) => outboxShow(app, id), renderOutboxShow));
  outbox
    .command('retry <id>')
    .description('queue a failed or bounced email again (the same message, the same Message-ID)')
    .action(action((app, id: string) => outboxRetry(app, actor(), id), (r: { id: number; status: string }) => `Outbox #${r.id} is ${r.status} again; the worker will send it.`));
  outbox
    .command('cancel <id>')
    .description('cancel a queued email before it goes out (not one being sent or already sent)')
    .option('--reason <text>', 'why, for the history')
    .action(action((app, id: string, o: { reason?: string }) => outboxCancel(app, actor(), id, o), renderCancel));

  const mail = program.command('mail').description('incoming mail: the intake journal');
  mail
    .command('ingest [files...]')
    .description('journal and process messages from .eml and mbox files (every file, each reported by name; exit 1 if any failed), or one from standard input (an MTA pipe)')
    .action(async (files: string[], _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      await withApp({ configPath: g.config, env: cli.env, cwd: cli.cwd, onLog: (l) => io.err(l) }, async (app) => {
        const rows = await mailIngest(app, files);
        io.out(g.json ? toJson(rows) : await renderIngest(rows));
        await failIfIngestFailed(rows);
      });
    });
  mail
    .command('list')
    .description('journaled messages, newest first, with their outcome and reason; a page at a time')
    .option('--outcome <outcome>', 'applied, quarantined, ignored, refused, failed or pending')
    .option('--since <date>', 'received on or after this date: 01.10.2026 or 2026-10-01')
    .option('--mailbox <name>', 'from this mailbox only (stdin for `mail ingest`)')
    .option('--record <ref>', 'routed to this record')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--before <id>', 'only messages before this journal number (the next page)')
    .action(action((app, o: MailListOptions) => mailList(app, o), renderMailList));
  mail
    .command('show <id>')
    .description('one journaled message: where it came from, what was read from it, what happened')
    .action(action((app, id: string) => mailShow(app, id), renderMailShow));
  mail
    .command('replay <id>')
    .description('process a journaled message again (a quarantined or failed one, after a fix)')
    .option('--force', 'even if it was applied (only when its effect was undone)')
    .action(action((app, id: string, o: { force?: boolean }) => mailReplay(app, id, o), (r: { id: number; outcome: string; reason: string }) => `#${r.id}: ${r.outcome} — ${r.reason}`));

  program
    .command('worker')
    .description('the main job: read every mailbox, process mail, send mail and text messages, until stopped (SIGTERM/SIGINT)')
    .option('--until-idle', 'read each mailbox once, send what is due, then stop (for scripts and tests)')
    .action(async (o: { untilIdle?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      await withApp({ configPath: g.config, env: cli.env, cwd: cli.cwd, onLog: (l) => io.err(l) }, async (app) => {
        if (!o.untilIdle) return workerForever(app, io);
        const r = await workerUntilIdle(app, io);
        io.out(g.json ? toJson(r) : await renderIdle(r));
      });
    });

  const party = program.command('party').description('the directory of banks, insurers, brokers, lawyers, clients');
  party
    .command('add <key>')
    .description('add a party')
    .requiredOption('--kind <kind>', 'client, bank, insurer, broker, lessor, workshop, lawyer')
    .requiredOption('--name <name>', 'full name')
    .addOption(new Option('--email <address>', 'an email address (repeat for more)').argParser((v: string, prev: string[] = []) => [...prev, v]).default([]))
    .option('--phone <phone>', 'phone number')
    .action(
      action(
        (app, key: string, o: { kind: string; name: string; email: string[]; phone?: string }) => partyAdd(app, actor(), { key, ...o }),
        (p: { key: string }) => `Added party ${p.key}.`,
      ),
    );
  const list = (v: string, prev: string[] = []) => [...prev, v];
  party
    .command('edit <key>')
    .description('correct a party: name, addresses, phone, kind, package profile; each change audited')
    .option('--name <name>', 'the full name')
    .option('--email <address>', 'its addresses, replacing all (repeat for more)', list)
    .option('--add-email <address>', 'add an address (repeat for more)', list)
    .option('--remove-email <address>', 'remove an address (repeat for more)', list)
    .option('--phone <phone>', 'phone number ("" to clear)')
    .option('--kind <kind>', 'client, bank, insurer, broker, lessor, workshop, lawyer')
    .option('--profile <folder>', 'package profile templates/<folder>/package.yaml, for a party with none of its own ("" to clear)')
    .option('--domain <domain>', 'a mail domain of the party\'s own, any address there speaks for it (never a public provider); replaces all, repeat for more ("" to clear)', list)
    .action(action((app, key: string, o: PartyEditOptions) => partyEdit(app, actor(), key, o), renderPartyEdit));
  party
    .command('list')
    .description('parties, by key')
    .option('--kind <kind>', 'only this kind')
    .action(action((app, o: { kind?: string }) => partyList(app, o), renderParties));
  party
    .command('import <csv>')
    .description('import parties from CSV (key, kind, name, emails, phone); all rows or none')
    .option('--update', 'update parties whose key already exists instead of refusing')
    .option('--encoding <encoding>', 'the text encoding (default: detected — BOM, UTF-8, else windows-1251 — and told)')
    .action(action((app, file: string, o: { update?: boolean; encoding?: string }) => partyImport(app, actor(), file, { ...o, onNote: (l: string) => io.err(l) }), renderImport));

  program
    .command('attach <ref> <files...>')
    .description('attach files to a record under a category (stored once by content)')
    .requiredOption('--category <category>', 'scene_photos, police_report, invoices, passport_scans, … (attachments.categories)')
    .option('--force', 'keep a scan too big for a package email anyway (packages then leave it out, with a warning)')
    .action(action((app, ref: string, files: string[], o: { category: string; force?: boolean }) => attach(app, actor(), { ref, files, category: o.category, force: o.force }), renderAttach));


  const db = program.command('db').description('database maintenance');
  db.command('migrate')
    .description('apply pending migrations (also done at every start)')
    .action(
      action(
        async (app) => {
          const r = await migrate(app.db);
          const version = (await app.db.query<{ v: number }>('SELECT max(version) AS v FROM schema_migrations')).rows[0]!.v;
          return { ...r, version };
        },
        (r: { applied: string[]; version: number }) => `Database schema at version ${r.version}.`,
      ),
    );

  db.command('stop')
    .description('stop the embedded PostgreSQL server now (it otherwise stays up database.embeddedIdleSeconds after the last command)')
    .action(async (_o: unknown, cmd: Command) => {
      // Not through action(): opening the app would start the server.
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const { loadConfig } = await import('../config/load.js');
      const { config, home } = loadConfig({ configPath: g.config, env: cli.env, cwd: cli.cwd });
      if (config.database.url) throw new DossierError('USAGE', 'This configuration uses a PostgreSQL server of its own (database.url), not the embedded one.', { hint: 'Stop that server with its own tools.' });
      const { stopEmbedded } = await import('../db/embedded.js');
      const r = await stopEmbedded(home);
      io.out(g.json ? toJson(r) : r.stopped ? `Stopped the embedded PostgreSQL server (${r.data}).` : `The embedded PostgreSQL server of ${home} was not running.`);
    });

  program
    .command('report')
    .description('deals and claims by status, days to each bank\'s/insurer\'s decision and to the final status, decisions, mail delivery and intake')
    .option('--type <type>', 'only this record type (deal, claim)')
    .option('--since <date>', 'only records (and mail) from this date on: 01.10.2026 or 2026-10-01')
    .option('--format <format>', 'table (the terminal), xlsx (sheets and charts) or csv (one file per section in a directory)', 'table')
    .option('-o, --out <path>', 'xlsx: the file; csv: the directory; table: a text file instead of the terminal')
    .action(action((app, o: { type?: string; since?: string; format?: string; out?: string }) => report(app, o), renderReport));

  program
    .command('demo')
    .description('run the sample story on the embedded defaults and narrate it')
    .action(async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const g = cmd.optsWithGlobals<GlobalOpts>();
      await withApp({ configPath: g.config, env: cli.env, cwd: cli.cwd, onLog: (l) => io.err(l) }, async (app) => {
        const lines: string[] = [];
        const result = await demo(app, actor(), (l) => (g.json ? lines.push(l) : io.out(l)));
        if (g.json) io.out(toJson(result));
      });
    });

  program
    .command('doctor')
    .description('check the installation: configuration, database, mailboxes, SMTP, SMS, templates, blob store, Maildir, field schemas; OK / WARN / FAIL with what to fix')
    .option('--timeout <seconds>', 'time limit per check that talks to a server', '10')
    .action(async (o: { timeout: string }, cmd: Command) => {
      // Not through action(): a configuration or database that openApp refuses is a FAIL line here.
      const g = cmd.optsWithGlobals<GlobalOpts>();
      const r = await doctor({ configPath: g.config, env: cli.env, cwd: cli.cwd, onLog: (l) => io.err(l), timeout: o.timeout });
      io.out(g.json ? toJson(r) : await renderDoctor(r));
      await failIfUnhealthy(r);
    });
  program
    .command('status')
    .description('queue depths, outbox and SMS by state, incoming mail of the last 24 h, quarantine, each mailbox\'s last poll')
    .action(action((app) => status(app), renderStatus));

  // Issue 17 (evidence helper): checklists, document review, reused evidence, deadlines.
  const checklist = program
    .command('checklist <ref>')
    .description('per recipient: the documents and fields its checklist requires — present, missing, expired or rejected')
    .option('-r, --recipient <party>', 'one recipient')
    .action(action((app, ref: string, o: { recipient?: string }) => checklistCmd(app, ref, o), renderChecklist));
  checklist
    .command('request <ref>')
    .description('email what is missing to the client or a party (their reply brings the files onto the record)')
    .requiredOption('--to <who>', '"client" or a party key')
    .option('-r, --recipient <party>', "only this recipient's checklist")
    .option('--dry-run', 'show the list, send nothing')
    .action(action((app, ref: string, o: { to: string; recipient?: string; dryRun?: boolean }) => checklistRequestCmd(app, actor(), ref, o), renderRequest));
  const doc = program.command('doc').description("staff's review of an attached document (audited)");
  for (const [name, decision] of [['accept', 'accepted'], ['reject', 'rejected']] as const) {
    doc
      .command(`${name} <attachment-id>`)
      .description(decision === 'accepted' ? 'accept a document for the checklists' : 'reject a document (a reason is required)')
      .option('--reason <text>', decision === 'accepted' ? 'a note' : 'why (the client is told)')
      .option('--dated <date>', 'the date printed on the document (for "not older than N days")')
      .option('--as <category>', 'the checklist category it counts as (a file that came in by email)')
      .action(action((app, id: string, o: { reason?: string; dated?: string; as?: string }) => docReview(app, actor(), id, decision, o), renderReview));
  }
  const evidence = program
    .command('evidence')
    .description('the same file or a near-identical photo attached to two records: the pairs, with similarity')
    .option('--ref <ref>', 'only pairs touching this record')
    .action(action((app, o: { ref?: string }) => evidenceCmd(app, o), renderEvidence));
  evidence
    .command('scan')
    .description('check every stored attachment again (files stored before the check existed)')
    .action(action((app) => evidenceScanCmd(app, actor()), renderScan));
  const due = program
    .command('due')
    .description('answers overdue or due soon from banks, insurers and lawyers, on the working-day calendar (deadlines: in the configuration)')
    .option('--all', 'every started clock, answered ones too (time to answer against the promise)')
    .option('--at <time>', 'as at this ISO time instead of now')
    .option('--summary', "each counterparty's time to answer against its promise")
    .action(action((app, o: { all?: boolean; at?: string; summary?: boolean }) => dueCmd(app, o), renderDue));
  due.command('remind').description('queue reminders to silent counterparties now (the worker does it on its schedule)').action(action((app) => remindCmd(app, actor()), renderRemind));
  due.command('digest').description("queue today's digest to staff now (once a day)").action(action((app) => digestCmd(app, actor()), renderDigest));

  // Issue 17 (approvals by reply): a configured chain of approvers approves a document by replying.
  const approval = program
    .command('approval <ref>')
    .description('who approved which document of the record and when (approvals by reply), and replies that did not count')
    .action(action((app, ref: string) => approvalListCmd(app, ref), renderApprovalList));
  approval
    .command('start <ref>')
    .description('email a document to the first approver of a chain (approvals.chains); each reply «согласовано» passes it on, «отклонено: причина» returns it')
    .option('--chain <name>', 'the approval chain (needed when the configuration has several)')
    .option('--doc <attachment|category>', "the attachment number, or the newest of a category (default: the chain's category)")
    .action(action((app, ref: string, o: { chain?: string; doc?: string }) => approvalStartCmd(app, actor(), ref, o), renderApprovalStarted));
  // Issue 18 (portal): links for outside parties, the portal server, staff users.
  const m_portal = () => import('./commands/portal.js');
  share
    .command('link <ref>')
    .description("a web link for one party of the record: a lawyer's or a bank's upload and message page, or the client's status page (bound like the reply token; `share revoke` ends both)")
    .requiredOption('--party <key>', 'the party the link is for')
    .option('--expires <when>', 'how long it works: 14d, 48h or a date (default portal.linkDays)')
    .action(action((app, ref: string, o: { party: string; expires?: string }) => lazy(m_portal, 'shareLink')(app, ref, o), (r: never) => lazy(m_portal, 'renderLink')(r)));
  program
    .command('serve')
    .description('the portal: links for outside parties, client status pages, read-only staff pages, /healthz and /metrics; until Ctrl-C')
    .option('--port <port>', 'the port (default portal.port, 8080)')
    .option('--host <host>', 'the address to listen on (default portal.host, 127.0.0.1: put a reverse proxy in front)')
    .option('--worker', 'run the worker in the same process too')
    .action(async (o: { port?: string; host?: string; worker?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      await withApp({ configPath: g.config, env: cli.env, cwd: cli.cwd, onLog: (l) => io.err(l) }, (app) => lazy(m_portal, 'serve')(app, io, o));
    });
  const user = program.command('user').description("staff who sign in to the portal's pages (the password is read from standard input)");
  user
    .command('add <login>')
    .description('add a staff user; the password comes from standard input (first line) or is typed')
    .option('--name <name>', 'their full name')
    .action(action((app, login: string, o: { name?: string }) => lazy(m_portal, 'userAdd')(app, io, login, o), (r: { login: string }) => `Added staff user ${r.login}.`));
  user
    .command('passwd <login>')
    .description("change a staff user's password (from standard input or typed)")
    .action(action((app, login: string) => lazy(m_portal, 'userPasswd')(app, io, login), (r: { login: string }) => `Changed the password of ${r.login}.`));

  return program;
}

/** Runs the CLI with these arguments and returns the exit code; never calls process.exit. */
export async function runCli(argv: string[], cli: CliEnv): Promise<number> {
  // `dossier attach detach …` is `dossier detach …` (attach takes files, so it cannot have subcommands).
  if (argv[0] === 'attach' && argv[1] === 'detach') argv = argv.slice(1);
  const program = buildProgram(cli);
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? 0 : ErrorExit.usage;
    }
    // issue 13: a full or read-only disk, an I/O error or the database gone away is the environment,
    // never "a bug" (exit 2 with its catalogue code); loaded only on this path, so --help stays light.
    const passing = isDossierError(err) ? null : (await import('../storage/transient.js')).passingFailure(err, `running \`dossier ${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}\``, 'This is not a bug: fix the storage or the database, then run the command again.');
    const e = isDossierError(err)
      ? err
      : (passing ??
        new DossierError('INTERNAL', `Unexpected error: ${(err as Error)?.message ?? String(err)}`, {
          hint: 'This is a bug. Run again with DOSSIER_DEBUG=1 for the stack trace and report it.',
          cause: err,
        }));
    if (json) io(cli).err(toJson({ error: e.toJSON() }));
    else io(cli).err(`error ${e.code}: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}`);
    if (cli.env.DOSSIER_DEBUG && err instanceof Error) io(cli).err(err.stack ?? '');
    return e.exitCode;
  }
}

const ErrorExit = { usage: 1 } as const;
const io = (cli: CliEnv) => cli.io;
