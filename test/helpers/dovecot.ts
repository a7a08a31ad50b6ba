import type { TestDovecot } from './dovecot-server.mjs';

// The Dovecot starter is plain JavaScript (dovecot-server.mjs) so that the benchmarks share it.
export { freePort, startDovecot, type TestDovecot } from './dovecot-server.mjs';

/** How many messages each folder of a user's mailbox holds (0 for a folder not created yet). */
export async function folderCounts(dovecot: TestDovecot, user: string): Promise<{ inbox: number; processed: number; quarantine: number }> {
  const c = dovecot.client(user);
  await c.connect();
  try {
    const count = async (folder: string) => {
      const s = await c.status(folder, { messages: true }).catch(() => false as const);
      return s ? (s.messages ?? 0) : 0;
    };
    return { inbox: await count('INBOX'), processed: await count('Dossier/Processed'), quarantine: await count('Dossier/Quarantine') };
  } finally {
    await c.logout();
  }
}
