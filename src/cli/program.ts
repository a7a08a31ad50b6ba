import { Command, CommanderError, Option } from 'commander';
import { cliActor, type App } from '../app.js';
import { migrate } from '../db/migrate.js';
import { DossierError, isDossierError } from '../errors.js';
import { attach, renderAttach } from './commands/attach.js';
import { demo } from './commands/demo.js';
import { mailIngest, mailList, mailReplay, mailShow, renderIngest, renderMailList, renderMailShow } from './commands/intake.js';
import { outboxList, outboxRetry, packBuild, packSend, packSendBackground, renderIdle, renderQueuedPackages, renderOutbox, renderPackBuild, renderSent, renderShare, shareCmd, workerForever, workerUntilIdle } from './commands/mail.js';
import { render, renderCheck, renderFields, renderInit, renderRendered, templateCheck, templateFields, templateInit } from './commands/documents.js';
import { exportRecords, importFields, importRecords } from '../schemas/bulk.js';
import { parseVersion } from './commands/schema.js';
import { fieldSet, fieldShow, fieldUnset, recordMigrate, renderChanges, renderFieldView, renderMigrations } from './commands/fields.js';
import { renderDiff, renderPublish, renderSchemaList, renderSchemaShow, renderValidate, schemaDiff, schemaList, schemaPublish, schemaShow, schemaValidate } from './commands/schema.js';
import { partyAdd, partyImport, partyList, recordLink, renderImport, renderParties } from './commands/parties.js';
import { recordCreate, recordHistoryCmd, recordList, recordShow, recordStatus, renderHistory, renderRecord, renderRecordList } from './commands/records.js';
import { doctor, failIfUnhealthy, renderDoctor } from './commands/doctor.js';
import { renderStatus, status } from './commands/status.js';
import { renderReport, report } from './commands/report.js';
import { toJson, type Io } from './output.js';
import { withApp } from './session.js';

// The CLI file only maps flags to the command functions; one handler at the end turns errors into
// exit codes and readable messages (no stack traces for user mistakes).

export interface CliEnv {
  io: Io;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

interface GlobalOpts { config?: string; json?: boolean }

export function buildProgram(cli: CliEnv): Command {
  const { io } = cli;
  const program = new Command('dossier')
    .description('Claims and credit deals: records, versioned fields, document packages, mail in and out.')
    .option('-c, --config <file>', 'configuration file laid over the defaults (also DOSSIER_CONFIG)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  /** Opens the app for one command, prints its result as JSON or as text, closes the app. */
  const action =
    <A extends unknown[]>(fn: (app: App, ...args: A) => Promise<unknown>, render: (result: never) => string) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const g = cmd.optsWithGlobals<GlobalOpts>();
      await withApp({ configPath: g.config, env: cli.env, cwd: cli.cwd, onLog: (l) => io.err(l) }, async (app) => {
        const result = await fn(app, ...(args.slice(0, -1) as A));
        io.out(g.json ? toJson(result) : render(result as never));
      });
    };
  const actor = () => cliActor(cli.env);

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
    .description('records, oldest first')
    .option('--type <type>', 'only this type')
    .option('--status <status>', 'only this status')
    .action(action((app, o: { type?: string; status?: string }) => recordList(app, o), renderRecordList));
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
    .action(
      action(
        (app, type: string, file: string, o: { format?: string }) => importRecords(app, actor(), type, file, o),
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
        (app, type: string, o: { format: string; out?: string; schema?: string }) => {
          if (o.format !== 'xlsx' && o.format !== 'csv') throw new DossierError('USAGE', `--format must be xlsx or csv, not "${o.format}".`);
          return exportRecords(app, type, { format: o.format, out: o.out ?? `${type}-export.${o.format}`, version: o.schema ? parseVersion(o.schema) : undefined });
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
    .action(action((app, ref: string, file: string, o: { format?: string }) => importFields(app, actor(), ref, file, o), renderChanges));
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
      await action((app) => packBuild(app, actor(), io, Boolean(g.json), ref, o), renderPackBuild)(cmd);
    });
  pack
    .command('send <ref>')
    .description('build and queue the package email(s): record tag and reply token in the subject, split when too big')
    .option('-r, --recipient <party>', 'one recipient')
    .option('--all', 'every recipient (and lawyer) linked to the record')
    .option('--dry-run', 'build and show what would be sent, queue nothing')
    .option('--background', 'leave building and sending to a running `dossier worker` (returns at once)')
    .action(async (ref: string, o: { recipient?: string; all?: boolean; dryRun?: boolean; background?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      if (o.background) await action((app) => packSendBackground(app, actor(), ref, o), renderQueuedPackages)(cmd);
      else await action((app) => packSend(app, actor(), io, Boolean(g.json), ref, o), renderSent)(cmd);
    });
  program
    .command('share <ref>')
    .description('send the full package to someone outside (a lawyer): creates the party if needed; their replies can add documents')
    .requiredOption('--email <address>', 'their address')
    .option('--role <role>', 'their role on the record', 'lawyer')
    .option('--name <name>', 'their name, for a new party')
    .action(action((app, ref: string, o: { email: string; role: string; name?: string }) => shareCmd(app, actor(), ref, o), renderShare));

  const outbox = program.command('outbox').description('every email Dossier sends, with its delivery state');
  outbox
    .command('list')
    .description('emails and their state (queued, sending, sent, failed, bounced), attempts, last server response')
    .option('--status <status>', 'only this state')
    .option('--ref <ref>', 'only this record')
    .action(action((app, o: { status?: string; ref?: string }) => outboxList(app, o), renderOutbox));
  outbox
    .command('retry <id>')
    .description('queue a failed or bounced email again (the same message, the same Message-ID)')
    .action(action((app, id: string) => outboxRetry(app, actor(), id), (r: { id: number; status: string }) => `Outbox #${r.id} is ${r.status} again; the worker will send it.`));

  const mail = program.command('mail').description('incoming mail: the intake journal');
  mail
    .command('ingest [files...]')
    .description('journal and process messages from .eml files, or one from standard input (an MTA pipe)')
    .action(action((app, files: string[]) => mailIngest(app, files), renderIngest));
  mail
    .command('list')
    .description('journaled messages, newest first, with their outcome and reason')
    .option('--outcome <outcome>', 'applied, quarantined, ignored, refused, failed or pending')
    .action(action((app, o: { outcome?: string }) => mailList(app, o), renderMailList));
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
        io.out(g.json ? toJson(r) : renderIdle(r));
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
  party
    .command('list')
    .description('parties, by key')
    .option('--kind <kind>', 'only this kind')
    .action(action((app, o: { kind?: string }) => partyList(app, o), renderParties));
  party
    .command('import <csv>')
    .description('import parties from CSV (key, kind, name, emails, phone); all rows or none')
    .option('--update', 'update parties whose key already exists instead of refusing')
    .action(action((app, file: string, o: { update?: boolean }) => partyImport(app, actor(), file, o), renderImport));

  program
    .command('attach <ref> <files...>')
    .description('attach files to a record under a category (stored once by content)')
    .requiredOption('--category <category>', 'scene_photos, police_report, invoices, passport_scans, … (attachments.categories)')
    .action(action((app, ref: string, files: string[], o: { category: string }) => attach(app, actor(), { ref, files, category: o.category }), renderAttach));

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
      io.out(g.json ? toJson(r) : renderDoctor(r));
      failIfUnhealthy(r);
    });
  program
    .command('status')
    .description('queue depths, outbox and SMS by state, incoming mail of the last 24 h, quarantine, each mailbox\'s last poll')
    .action(action((app) => status(app), renderStatus));

  return program;
}

/** Runs the CLI with these arguments and returns the exit code; never calls process.exit. */
export async function runCli(argv: string[], cli: CliEnv): Promise<number> {
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
    const e = isDossierError(err)
      ? err
      : new DossierError('INTERNAL', `Unexpected error: ${(err as Error)?.message ?? String(err)}`, {
          hint: 'This is a bug. Run again with DOSSIER_DEBUG=1 for the stack trace and report it.',
          cause: err,
        });
    if (json) io(cli).err(toJson({ error: e.toJSON() }));
    else io(cli).err(`error ${e.code}: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}`);
    if (cli.env.DOSSIER_DEBUG && err instanceof Error) io(cli).err(err.stack ?? '');
    return e.exitCode;
  }
}

const ErrorExit = { usage: 1 } as const;
const io = (cli: CliEnv) => cli.io;
