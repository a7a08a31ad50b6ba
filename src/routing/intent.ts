import type { StatusCommand } from './status-reply.js';

// What a message means, as route() decides it: an intent, with the record it is about, who speaks,
// and the facts it relied on (said in the journal's details so that an outcome can be explained).
// Everything here is data; the actions (src/inbound/act/) do the work.

export interface PartyFact { id: number; key: string; kind: string; name: string; role: string; emails: string[]; domains?: string[] | null; phone: string | null }
export interface RecordFact { id: number; ref: string; type: string; status: string; parties: PartyFact[] }
/** One of our outbox rows that the message refers to (In-Reply-To, References, a bounce's original). */
export interface OutboxFact { id: number; message_id: string; record_id: number | null; party_id: number | null; ref: string | null; party: string | null; to_addresses: string[]; status: string }

export type Speaker =
  | { kind: 'staff'; address: string; verified: boolean }
  | { kind: 'party'; party: string; address: string }
  | { kind: 'unknown'; address: string | null; claimedParty?: string };

export type Via = 'reply' | 'token' | 'subject' | 'name' | null;

/** Why a staff message is answered with a refusal (the text is the notifier's, in the configured language). */
export type Problem =
  | { code: 'staff-unverified'; address: string }
  | { code: 'ambiguous'; detail: string }
  | { code: 'no-record'; ambiguousNames: string[]; unknownRefs: string[] }
  | { code: 'no-deciding-party'; ref: string; forwardedFrom: string | null; recipients: string[] }
  | { code: 'no-decision-fields'; type: string; version: number; fields: string[]; kind: string }
  | { code: 'error'; message: string; hint: string }
  // issue 13: answers to senders we know whose message was not taken
  | { code: 'too-large'; size: number; limit: number }
  | { code: 'closed-record'; ref: string; status: string };

interface Base {
  record: RecordFact | null;
  speaker: Speaker;
  via: Via;
  /** The facts the decision relied on, in words (kept in the journal's details). */
  facts: string[];
}

export type Intent =
  | (Base & { kind: 'noise'; reason: string })
  | (Base & { kind: 'bounce'; outbox: OutboxFact; recipients: string[]; why: string })
  | (Base & { kind: 'delivery-status'; outbox: OutboxFact; action: 'delayed' | 'delivered'; recipients: string[]; why: string })
  | (Base & { kind: 'staff-decision'; record: RecordFact; command: StatusCommand; party: PartyFact })
  | (Base & { kind: 'staff-note'; record: RecordFact })
  | (Base & { kind: 'party-documents'; record: RecordFact; party: PartyFact })
  | (Base & { kind: 'refusal'; outcome: 'refused' | 'quarantined'; problem: Problem; reason: string })
  | (Base & { kind: 'quarantine'; reason: string })
  // Issue 17: a reply to an approval request ([APR-n] in the subject); src/approvals decides whether it counts.
  | (Base & { kind: 'approval-reply'; approvalId: number; authenticated: boolean; authReason: string });

export type IntentKind = Intent['kind'];
