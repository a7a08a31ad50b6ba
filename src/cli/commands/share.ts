import type { Actor, App } from '../../app.js';
import { revokeReplyToken } from '../../outbound/tokens.js';

// `dossier share revoke <ref> --party <key>`: the party's reply token for the record stops working
// at once (a reply carrying it is quarantined with the reason "revoked"); the next package sent to
// the party carries a new token.

export async function shareRevoke(app: App, actor: Actor, ref: string, o: { party: string }) {
  return revokeReplyToken(app.db, actor, ref, o.party);
}

export const renderRevoke = (r: Awaited<ReturnType<typeof shareRevoke>>) =>
  r.alreadyRevoked
    ? `The reply token of ${r.party} for ${r.ref} was already revoked (${r.revokedAt.toISOString().slice(0, 16).replace('T', ' ')}).`
    : `Revoked the reply token of ${r.party} for ${r.ref}: replies carrying it are refused from now on. The next package sent to ${r.party} carries a new token.`;
