import { z } from 'zod';

// One schema for the whole configuration: the file(s) and DOSSIER_* variables are merged first,
// then validated here once, so that every problem is reported together with its path.

const Label = z.strictObject({ ru: z.string().min(1), en: z.string().min(1) });
const Key = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lower-case letters, digits and _');

const RecordType = z
  .strictObject({
    prefix: z.string().regex(/^[A-Z]{1,4}$/, 'must be 1–4 capital Latin letters, e.g. DL'),
    label: Label,
    initialStatus: Key,
    statuses: z.record(Key, Label).refine((s) => Object.keys(s).length > 0, 'at least one status'),
    final: z.array(Key).default([]),
    transitions: z.record(Key, z.array(Key)),
    /** The status a record moves to when its packages are sent (where its transitions allow); none: it stays. */
    statusOnSend: Key.optional(),
  })
  .superRefine((t, ctx) => {
    const known = new Set(Object.keys(t.statuses));
    if (!known.has(t.initialStatus)) {
      ctx.addIssue({ code: 'custom', path: ['initialStatus'], message: `"${t.initialStatus}" is not one of the statuses (${[...known].join(', ')})` });
    }
    if (t.statusOnSend !== undefined && !known.has(t.statusOnSend)) {
      ctx.addIssue({ code: 'custom', path: ['statusOnSend'], message: `"${t.statusOnSend}" is not one of the statuses (${[...known].join(', ')})` });
    }
    t.final.forEach((s, i) => {
      if (!known.has(s)) ctx.addIssue({ code: 'custom', path: ['final', i], message: `"${s}" is not one of the statuses` });
    });
    for (const [from, tos] of Object.entries(t.transitions)) {
      if (!known.has(from)) ctx.addIssue({ code: 'custom', path: ['transitions', from], message: `"${from}" is not one of the statuses` });
      tos.forEach((to, i) => {
        if (!known.has(to)) ctx.addIssue({ code: 'custom', path: ['transitions', from, i], message: `"${to}" is not one of the statuses` });
      });
    }
  });

export const LANGUAGES = ['ru', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];
// Issue 17 (evidence helper): how long each counterparty is expected to take to answer, counted on a
// working-day calendar; `dossier due`, the worker's reminders and the staff digest read it.
const IsoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');
// Issue 17 (approvals): configured chains of approvers, each approving a document by replying.
const Approvals = z.strictObject({
  /** Who hears of a rejection and of a chain approved by all; empty: mail.staff. */
  notifyTo: z.array(z.string().email()).default([]),
  /** Per document type (e.g. contract): its approvers, in order. */
  chains: z
    .record(
      Key,
      z.strictObject({
        /** What the approvers read the document as («Договор»); empty: the chain's name. */
        title: z.string().default(''),
        /** The attachment category the document is taken from when `approval start` names no attachment. */
        category: Key.optional(),
        approvers: z.array(z.strictObject({ email: z.string().email(), name: z.string().default('') })).min(1),
      }),
    )
    .default({}),
});

const Deadlines = z.strictObject({
  /** Where the working days are counted (the office's zone). */
  timeZone: z.string().refine((tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'not a time zone name (e.g. Europe/Moscow)').default('Europe/Moscow'),
  /** ISO weekdays that are not worked (1 Monday … 7 Sunday). */
  weekends: z.array(z.number().int().min(1).max(7)).default([6, 7]),
  /** Days off besides the weekends, and weekend days that are worked (a moved working day). */
  holidays: z.array(IsoDay).default([]),
  workingWeekends: z.array(IsoDay).default([]),
  /** An item is "due soon" this many working days before its due time. */
  dueSoonWorkingDays: z.number().int().min(0).default(1),
  /** A silent counterparty is reminded at most once in this many days. */
  reminderIntervalDays: z.number().positive().default(2),
  /** Who gets the daily digest; empty: mail.staff. */
  digestTo: z.array(z.string().email()).default([]),
  /** The worker looks for overdue answers (reminders, the digest) this often. */
  checkMinutes: z.number().int().min(1).max(1440).default(60),
  /** The daily digest goes out at the first check from this hour on (the office's time zone). */
  digestHour: z.number().int().min(0).max(23).default(9),
  /** Per record type and party kind (or one party by key, which wins): the step and its time. */
  expect: z
    .array(
      z
        .strictObject({
          type: Key,
          kind: Key.optional(),
          party: z.string().min(1).optional(),
          /** acknowledgement: any real answer (not an auto-reply); decision: approved or declined. */
          step: z.enum(['acknowledgement', 'decision']),
          days: z.number().int().min(1),
          count: z.enum(['working', 'calendar']).default('working'),
        })
        .refine((e) => Boolean(e.kind) !== Boolean(e.party), 'give either kind or party'),
    )
    .default([]),
});


// Issue 18 (portal): `dossier serve` — links for outside parties, client status pages, staff pages.
const Portal = z.strictObject({
  /** The address people open (behind the reverse proxy): links are printed with it. */
  baseUrl: z.string().url().default('http://localhost:8080'),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  /** Behind a reverse proxy: read the client address from X-Forwarded-For (for rate limits). */
  trustProxy: z.boolean().default(false),
  /** Days a link made by `dossier share link` works, unless --expires says otherwise. */
  linkDays: z.number().int().min(1).max(3650).default(30),
  /** The largest file one upload may be (the mail limit is about 25 MB; this is the portal's). */
  maxUploadBytes: z.number().int().positive().default(512 * 1024 * 1024),
  /** Requests a minute from one address (login: a tenth of it). */
  rateLimitPerMinute: z.number().int().min(1).default(120),
  /** How staff sign in: password (dossier user add) or proxy (the reverse proxy's authenticated-user header). */
  staffAuth: z.enum(['password', 'proxy']).default('password'),
  /** proxy: the header carrying the signed-in user (set only by the proxy; strip it from clients). */
  proxyUserHeader: z.string().min(1).default('x-remote-user'),
  /** Hours a staff sign-in lasts. */
  sessionHours: z.number().positive().max(720).default(12),
  /** Whom clients and parties are told to contact (the status page). */
  contact: z.string().min(1).nullable().default(null),
});

export const ConfigSchema = z
  .strictObject({
    home: z.string().min(1),
    /** What people read: report and chart titles, export headers, statuses (ru or en). */
    language: z.enum(LANGUAGES).default('ru'),
    database: z.strictObject({
      url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').nullable().default(null),
      poolSize: z.number().int().min(1).max(200).default(10),
      /** The embedded server stays up this long after the last command, so the next one starts at once; 0: stop with the last. */
      embeddedIdleSeconds: z.number().min(0).max(86400).default(300),
    }),
    templates: z.strictObject({
      dir: z.string().min(1).nullable().default(null),
      /** Threads that fill the documents of a batch of packages; 1: none (the calling thread does it). */
      renderThreads: z.number().int().min(1).max(64).default(1),
    }),
    schemas: z.strictObject({
      dir: z.string().min(1).nullable().default(null),
    }),
    storage: z
      .strictObject({
        /** Where blob bytes live: fs (<home>/blobs, one machine) or postgres (shared by every worker). */
        blobs: z.enum(['fs', 'postgres']).default('fs'),
      })
      .default({ blobs: 'fs' }),
    attachments: z.strictObject({
      maxBytes: z.number().int().positive(),
      categories: z.record(Key, Label).refine((c) => Object.keys(c).length > 0, 'at least one category'),
    }),
    mail: z.strictObject({
      /** Who our mail comes from. */
      from: z.string().min(3),
      /** The domain of our Message-IDs. */
      domain: z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'must be a domain name like dossier.example'),
      /** The mailbox replies go to; outside parties reply to its plus-address with their token. */
      intakeAddress: z.string().email(),
      transport: z.enum(['file', 'smtp']),
      /** file transport: where .eml files are written (default <home>/outbox). */
      fileDir: z.string().nullable().default(null),
      smtp: z.strictObject({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535),
        security: z.enum(['tls', 'starttls', 'none']),
        user: z.string().nullable().default(null),
        password: z.string().nullable().default(null),
        allowSelfSigned: z.boolean().default(false),
        timeoutSeconds: z.number().positive().default(60),
      }),
      retry: z.strictObject({
        limit: z.number().int().min(0).max(50),
        delaySeconds: z.number().int().min(1),
        backoff: z.boolean(),
      }),
      /** Secret for reply tokens; empty: generated once and kept in the database (never again once tokens are out). */
      tokenSecret: z.string().min(16).nullable().default(null),
      /** Secrets that issued tokens still in circulation, checked after tokenSecret (rotation: README, Security). */
      previousTokenSecrets: z.array(z.string().min(16)).default([]),
      /** Days a reply token stays valid after it was last sent. */
      tokenDays: z.number().int().min(1).max(3650).default(180),
      /** Staff addresses (status replies are accepted only from them). */
      staff: z.array(z.string().email()).default([]),
    }),
    intake: z.strictObject({
      /** The embedded default source: a Maildir (new/, cur/, tmp/); empty: <home>/inbox. */
      maildir: z.string().nullable().default(null),
      mailboxes: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _'),
            host: z.string().min(1),
            port: z.number().int().min(1).max(65535),
            security: z.enum(['tls', 'starttls', 'none']),
            user: z.string().min(1),
            password: z.string().min(1),
            folder: z.string().default('INBOX'),
            processedFolder: z.string().default('Dossier/Processed'),
            quarantineFolder: z.string().default('Dossier/Quarantine'),
            idle: z.boolean().default(true),
            pollSeconds: z.number().int().min(1).default(30),
            allowSelfSigned: z.boolean().default(false),
          }),
        )
        .default([]),
      limits: z.strictObject({
        maxMessageBytes: z.number().int().positive(),
        maxAttachmentBytes: z.number().int().positive(),
        maxAttachments: z.number().int().positive(),
      }),
      /** More messages than this from one sender in an hour are quarantined. */
      perSenderPerHour: z.number().int().positive(),
      /**
       * How staff mail proves it is real (src/inbound/verify.ts). dkim: Dossier verifies the DKIM
       * signature of the From domain itself (mailauth). mta: our own MTA's Authentication-Results,
       * trusted only in the topmost header bearing trustedAuthServId that stands above a Received
       * added by mtaHostname. The old string forms are read as before: mailauth → dkim,
       * authentication-results → mta (it then also needs mtaHostname).
       */
      staffAuth: z.preprocess(
        // "none" (trust every staff From) is gone: read as an invalid mode, so the error names the choices.
        (v) => (v === 'mailauth' ? { mode: 'dkim' } : v === 'authentication-results' ? { mode: 'mta' } : typeof v === 'string' ? { mode: v } : v),
        z.strictObject({
          mode: z.enum(['dkim', 'mta']).default('dkim'),
          trustedAuthServId: z.string().min(1).nullable().default(null),
          mtaHostname: z.string().min(1).nullable().default(null),
        }),
      ),
      /** Category of documents that outside parties send. */
      incomingCategory: z.string().min(1),
    }),
    worker: z.strictObject({
      sendConcurrency: z.number().int().min(1).max(50).default(2),
      batchSize: z.number().int().min(1).max(500).default(10),
      pollingIntervalSeconds: z.number().min(0.5).max(60).default(1),
      maildirPollSeconds: z.number().min(0.5).default(5),
      standbySeconds: z.number().min(0.5).default(5),
      sweepSeconds: z.number().min(1).default(15),
      shutdownTimeoutSeconds: z.number().min(1).default(30),
    }),
    notifications: z.strictObject({
      /** The language of the mail and text messages intake writes (confirmations, refusals, client
       *  notices), when it should differ from the top-level `language`; null: that one. */
      language: z.enum(LANGUAGES).nullable().default(null),
      sms: z.strictObject({
        gateway: z.enum(['none', 'file', 'http']),
        fileDir: z.string().nullable().default(null),
        url: z.string().url().nullable().default(null),
        /** Handlebars: {{to}} and {{text}} (JSON-escaped with {{json text}}). */
        body: z.string().default('{"to": {{json to}}, "text": {{json text}}}'),
        headers: z.record(z.string(), z.string()).default({}),
      }),
    }),
    /** What a bank's or insurer's decision does to the record's status. */
    statusRules: z.record(
      z.string(),
      z.record(z.enum(['approved', 'declined', 'more_info']), z.strictObject({ status: z.string(), when: z.enum(['any', 'all']).default('any') })),
    ),
    parties: z.strictObject({
      kinds: z.array(Key).min(1),
      roles: z.array(Key).min(1),
    }),
    recordTypes: z.record(Key, RecordType).refine((r) => Object.keys(r).length > 0, 'at least one record type'),
    deadlines: Deadlines.default(() => Deadlines.parse({})),
    approvals: Approvals.default(() => Approvals.parse({})), // issue 17
    portal: Portal.default(() => Portal.parse({})),
  })
  .superRefine((c, ctx) => {
    const seen = new Map<string, string>();
    for (const [type, t] of Object.entries(c.recordTypes)) {
      const other = seen.get(t.prefix);
      if (other) ctx.addIssue({ code: 'custom', path: ['recordTypes', type, 'prefix'], message: `prefix ${t.prefix} is already used by "${other}"` });
      seen.set(t.prefix, type);
    }
    // Issue 17: an approval chain takes its document from a category that exists.
    for (const [name, chain] of Object.entries(c.approvals.chains)) {
      if (chain.category && !(chain.category in c.attachments.categories)) ctx.addIssue({ code: 'custom', path: ['approvals', 'chains', name, 'category'], message: `"${chain.category}" is not an attachment category (attachments.categories)` });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;
export type RecordTypeConfig = Config['recordTypes'][string];
