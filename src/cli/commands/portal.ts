import type { App } from '../../app.js';
import { DossierError } from '../../errors.js';
import { createLink, type IssuedLink } from '../../portal/links.js';
import { buildPortal, startPortal } from '../../portal/server.js';
import { addUser, setPassword } from '../../portal/users.js';
import type { Io } from '../output.js';
import { onStop } from '../session.js';

// Issue 18: `dossier share link`, `dossier serve`, `dossier user add|passwd`.

export async function shareLink(app: App, ref: string, o: { party: string; expires?: string }): Promise<IssuedLink> {
  return createLink(app, ref, o.party, { expires: o.expires });
}

export const renderLink = (l: IssuedLink) =>
  `${l.url}\n  ${l.page === 'status' ? 'the status page' : 'upload and message page'} of ${l.party} (${l.role}) for ${l.ref}; works until ${l.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.\n  \`dossier share revoke ${l.ref} --party ${l.party}\` ends it (and the party's reply token) at once.`;

/** `dossier serve`: the portal until SIGINT/SIGTERM; with --worker, the worker in the same process. */
export async function serve(app: App, io: Io, o: { port?: string; host?: string; worker?: boolean }): Promise<void> {
  const port = o.port === undefined ? undefined : Number(o.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new DossierError('USAGE', `--port ${o.port} is not a port number.`, { hint: 'Give a number from 1 to 65535, e.g. --port 8080.' });
  }
  const server = await buildPortal(app, { log: (l) => io.err(l) });
  const address = await startPortal(app, server, { ...(port !== undefined ? { port } : {}), ...(o.host ? { host: o.host } : {}) });
  io.out(`Portal listening on ${address} (links are printed with ${app.config.portal.baseUrl}); /healthz and /metrics for monitoring. Stop with Ctrl-C.`);
  let stopWorker: (() => Promise<void>) | null = null;
  let workerStopped: Promise<unknown> = new Promise(() => {});
  if (o.worker) {
    const [{ startWorker }, { createLogger }] = await Promise.all([import('../../jobs/service.js'), import('../../jobs/log.js')]);
    const handle = await startWorker(app, createLogger((line) => io.err(line)));
    stopWorker = handle.stop;
    workerStopped = handle.stopped;
  }
  let done!: () => void;
  const stopped = new Promise<void>((r) => (done = r));
  const unregister = onStop(async () => {
    await server.close();
    await stopWorker?.();
    done();
  });
  try {
    await Promise.race([stopped, workerStopped.then(() => server.close())]);
  } finally {
    unregister();
  }
}

/** The password from standard input: the first line of a pipe, or typed at a terminal without echo. */
async function readPassword(io: Io, prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = '';
    for await (const chunk of stdin) {
      text += String(chunk);
      if (text.includes('\n')) break;
    }
    return text.split(/\r?\n/)[0] ?? '';
  }
  io.err(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve) => {
    let typed = '';
    const onData = (b: Buffer) => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          return resolve(typed);
        }
        if (ch === '\u0003') process.kill(process.pid, 'SIGINT');
        else if (ch === '\u007f') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export async function userAdd(app: App, io: Io, login: string, o: { name?: string }) {
  return addUser(app.db, login, await readPassword(io, `Password for ${login}:`), o.name);
}

export async function userPasswd(app: App, io: Io, login: string) {
  return setPassword(app.db, login, await readPassword(io, `New password for ${login}:`));
}
