import { replyToken } from '../outbound/tokens.js';

// fixtures/mail/*.eml that answer our own mail carry placeholders ({{CLAIM_REF}}, {{TOKEN:party}},
// {{OUTBOX_MESSAGE_ID:party}}, {{DATE}}) for what exists only once records and packages do. The
// demo, the fixture tests and the hostile-mail corpus fill them the same way. Placeholders sit only
// in headers and 7bit/8bit text, so the message is handled as latin1 text: every byte kept.

export interface FixtureRefs {
  deal: string;
  claim: string;
  /** The reply-token secret of the database the messages go to. */
  secret: string;
  /** The Message-ID of our latest package email to this party. */
  messageIdOf(party: string): Promise<string>;
  /** Made part of each message's own Message-ID, so that telling the story again sends new mail
   *  (intake takes the same Message-ID from the same sender once). */
  messageIdTag?: string;
}

export async function fillMailFixture(raw: string, refs: FixtureRefs, now = new Date()): Promise<string> {
  // Lawyers reply about the claim, banks about the deal.
  const refOf = (party: string) => (party.startsWith('lawyer') ? refs.claim : refs.deal);
  let out = raw
    .replace(/\{\{DEAL_REF\}\}/g, refs.deal)
    .replace(/\{\{CLAIM_REF\}\}/g, refs.claim)
    .replace(/\{\{DATE\}\}/g, now.toUTCString().replace('GMT', '+0000'))
    .replace(/\{\{TOKEN:([a-z0-9-]+)\}\}/g, (_m, party: string) => replyToken(refs.secret, refOf(party), party));
  for (const m of out.matchAll(/\{\{OUTBOX_MESSAGE_ID:([a-z0-9-]+)\}\}/g)) out = out.replaceAll(m[0], await refs.messageIdOf(m[1]!));
  if (refs.messageIdTag) {
    // The message's own Message-ID only (the first such header), not those it quotes or replies to.
    const tag = refs.messageIdTag.toLowerCase();
    out = out.replace(/^(Message-ID:\s*<)([^@>\r\n]+)@/im, (_m, head: string, local: string) => `${head}${local}.${tag}@`);
  }
  return out;
}
