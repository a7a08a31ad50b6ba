import type { Actor, App } from '../../app.js';
import type { DbClient } from '../../db/pool.js';
import type { PassCache } from '../facts.js';
import type { JournalRow, Outcome } from '../journal.js';
import type { Notifier } from '../notify.js';
import type { ParsedMessage } from '../types.js';

// What every action gets: the open transaction, who acts (message:<id>), the journal row and the
// parsed message, the notifier (its outbox rows are queued after the commit), the pass's cache.

export interface ActContext { app: App; c: DbClient; actor: Actor; row: JournalRow; m: ParsedMessage; notify: Notifier; cache: PassCache }

/** The journal's outcome of a message. */
export interface Decision { outcome: Outcome; reason: string; recordId?: number; partyId?: number; ref?: string; details?: Record<string, unknown> }
