// The one catalogue of error codes. Every failure a user or operator can meet has a code here,
// a message that says what was wrong and where, and a hint that says what to do.
// Exit codes: 1 = the request was wrong (user input), 2 = the environment is wrong (config, database),
// 3 = an internal fault (a bug: please report it with the log).

export const ErrorCodes = {
  CONFIG_INVALID: { exit: 2, title: 'The configuration is invalid' },
  CONFIG_NOT_FOUND: { exit: 2, title: 'The configuration file was not found' },
  DB_UNAVAILABLE: { exit: 2, title: 'The database cannot be reached' },
  DB_EMBEDDED_FAILED: { exit: 2, title: 'The embedded PostgreSQL server could not be started' },
  MIGRATION_FAILED: { exit: 2, title: 'A database migration failed' },
  MIGRATION_CHANGED: { exit: 2, title: 'An applied migration file was changed' },
  RECORD_TYPE_UNKNOWN: { exit: 1, title: 'Unknown record type' },
  RECORD_NOT_FOUND: { exit: 1, title: 'No such record' },
  REF_INVALID: { exit: 1, title: 'Not a record reference' },
  STATUS_UNKNOWN: { exit: 1, title: 'Unknown status' },
  TRANSITION_FORBIDDEN: { exit: 1, title: 'Status change not allowed' },
  PARTY_EXISTS: { exit: 1, title: 'A party with this key already exists' },
  PARTY_NOT_FOUND: { exit: 1, title: 'No such party' },
  PARTY_INVALID: { exit: 1, title: 'Invalid party data' },
  ROLE_UNKNOWN: { exit: 1, title: 'Unknown role' },
  CSV_INVALID: { exit: 1, title: 'The CSV file has errors' },
  FILE_NOT_FOUND: { exit: 1, title: 'File not found' },
  FILE_UNREADABLE: { exit: 1, title: 'File cannot be read' },
  ATTACHMENT_TOO_LARGE: { exit: 1, title: 'File too large' },
  ATTACHMENT_EMPTY: { exit: 1, title: 'File is empty' },
  CATEGORY_UNKNOWN: { exit: 1, title: 'Unknown attachment category' },
  BLOB_MISSING: { exit: 2, title: 'A stored file is missing from the blob store' },
  BLOB_CORRUPT: { exit: 2, title: 'A stored file does not match its checksum' },
  SCHEMA_INVALID: { exit: 1, title: 'A field schema file has errors' },
  SCHEMA_NOT_FOUND: { exit: 1, title: 'No such field schema version' },
  SCHEMA_NOT_PUBLISHED: { exit: 1, title: 'The field schema version is not published' },
  SCHEMA_PUBLISHED_CHANGED: { exit: 2, title: 'A published field schema file was changed' },
  FIELD_UNKNOWN: { exit: 1, title: 'Unknown field' },
  FIELD_INVALID: { exit: 1, title: 'Invalid field value' },
  FIELD_NOT_ALLOWED: { exit: 1, title: 'The field cannot be set there' },
  IMPORT_INVALID: { exit: 1, title: 'The import file has errors' },
  TEMPLATE_NOT_FOUND: { exit: 1, title: 'No such template' },
  TEMPLATE_CORRUPT: { exit: 1, title: 'The template file is damaged' },
  TEMPLATE_INVALID: { exit: 1, title: 'The template has errors' },
  TEMPLATE_SCHEMA_MISMATCH: { exit: 1, title: 'The template does not support the record\'s schema version' },
  RENDER_MISSING_VALUES: { exit: 1, title: 'Values missing for the template' },
  RENDER_FAILED: { exit: 1, title: 'The document could not be filled' },
  FONT_MISSING_GLYPHS: { exit: 1, title: 'The font cannot show some characters' },
  PROFILE_NOT_FOUND: { exit: 1, title: 'No package profile for the recipient' },
  PROFILE_INVALID: { exit: 1, title: 'The package profile has errors' },
  PACKAGE_FAILED: { exit: 1, title: 'The package could not be built' },
  NO_RECIPIENTS: { exit: 1, title: 'No recipients to build packages for' },
  OUTBOX_NOT_FOUND: { exit: 1, title: 'No such outbox message' },
  OUTBOX_STATE: { exit: 1, title: 'The message is not in a state that allows this' },
  MAIL_CONFIG: { exit: 2, title: 'Mail is not configured' },
  DOCTOR_FAILED: { exit: 2, title: 'A health check failed' },
  DEMO_STALLED: { exit: 2, title: 'The demo did not finish' },
  USAGE: { exit: 1, title: 'Wrong command usage' },
  CHECKLIST_NONE: { exit: 1, title: 'The recipient has no checklist' },
  CHECKLIST_INCOMPLETE: { exit: 1, title: 'A recipient\'s checklist is not complete' },
  INTERNAL: { exit: 3, title: 'Internal error' },
  IMPORT_ENCODING: { exit: 1, title: 'The text encoding of the file cannot be told' },
  SECRET_FILE: { exit: 2, title: 'A secret file cannot be read' },
  ATTACHMENT_NOT_FOUND: { exit: 1, title: 'No such attachment on the record' },
  PARTY_NOT_LINKED: { exit: 1, title: 'The party is not linked to the record' },
  PACKAGE_ALREADY_SENT: { exit: 1, title: 'The package was already sent' },
  PACKAGES_INCOMPLETE: { exit: 1, title: 'Some recipients\' packages failed' },
  TOKEN_SECRET_MISSING: { exit: 2, title: 'The reply-token secret is missing or is not the one that issued the tokens in circulation' },
  TOKEN_NOT_FOUND: { exit: 1, title: 'No reply token for this record and party' },
  MAIL_INGEST_FAILED: { exit: 1, title: 'Some messages could not be taken in' },
  TEMPLATE_ENCRYPTED: { exit: 1, title: 'The template is protected by a password' },
  RENDER_OVERFLOW: { exit: 1, title: 'A value does not fit its place on the form' },
  // issue 13 (trust): passing storage failures leave mail for the next pass
  STORAGE_UNAVAILABLE: { exit: 2, title: 'Storage is unavailable for now (disk full, read-only, I/O error, too many open files)' },
  // Issue 17 (approvals by reply)
  APPROVAL_CHAIN_UNKNOWN: { exit: 1, title: 'No such approval chain in the configuration' },
  APPROVAL_DOCUMENT_NOT_FOUND: { exit: 1, title: 'The document to approve is not on the record' },
  APPROVAL_ALREADY_OPEN: { exit: 1, title: 'The document is already waiting for approval' },
  // Issue 18 (portal): links, uploads, staff users, the server.
  USER_EXISTS: { exit: 1, title: 'A staff user with this login already exists' },
  USER_NOT_FOUND: { exit: 1, title: 'No such staff user' },
  PASSWORD_INVALID: { exit: 1, title: 'The password is not acceptable' },
  PORTAL_START_FAILED: { exit: 2, title: 'The portal server could not start' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface DossierErrorOptions {
  hint?: string;
  /** Structured detail for --json output and for tests (e.g. the list of problems). */
  details?: unknown;
  cause?: unknown;
}

export class DossierError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: DossierErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DossierError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  get exitCode(): number {
    return ErrorCodes[this.code].exit;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

export function isDossierError(err: unknown, code?: ErrorCode): err is DossierError {
  return err instanceof DossierError && (code === undefined || err.code === code);
}
