import { openApp, type App, type OpenAppOptions } from '../app.js';

// The apps this process has open or is opening, so that a signal can close them (which stops the
// embedded PostgreSQL server if this process is the last one using it) before the process exits,
// even when the signal arrives while the server is still starting.
const opening = new Set<Promise<App | null>>();
const open = new Set<App>();
// Long-running commands (the worker) register how to stop gracefully; a first signal runs these
// before the apps are closed, so work in flight is finished or handed back.
const stoppers = new Set<() => Promise<void>>();

/** Registers a graceful stop for the next signal; returns the function that unregisters it. */
export function onStop(stop: () => Promise<void>): () => void {
  stoppers.add(stop);
  return () => void stoppers.delete(stop);
}

export async function withApp<T>(options: OpenAppOptions, fn: (app: App) => Promise<T>): Promise<T> {
  const pending = openApp(options);
  const tracked = pending.catch(() => null);
  opening.add(tracked);
  let app: App;
  try {
    app = await pending;
  } finally {
    opening.delete(tracked);
  }
  open.add(app);
  try {
    return await fn(app);
  } finally {
    // Still listed while closing, so that a signal now waits for the close (which may be stopping
    // the embedded server) instead of exiting in the middle of it.
    await app.close();
    open.delete(app);
  }
}

/** Closes everything this process has open; `graceful` first lets long-running commands stop. */
export async function closeAll(opts: { graceful?: boolean } = {}): Promise<void> {
  if (opts.graceful) await Promise.allSettled([...stoppers].map((stop) => stop()));
  stoppers.clear();
  const justOpened = await Promise.all([...opening]);
  const apps = new Set([...open, ...justOpened.filter((a): a is App => a !== null)]);
  open.clear();
  await Promise.allSettled([...apps].map((a) => a.close()));
}
