import { openApp, type App, type OpenAppOptions } from '../app.js';

// The apps this process has open or is opening, so that a signal can close them (which stops the
// embedded PostgreSQL server if this process is the last one using it) before the process exits,
// even when the signal arrives while the server is still starting.
const opening = new Set<Promise<App | null>>();
const open = new Set<App>();

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
    open.delete(app);
    await app.close();
  }
}

export async function closeAll(): Promise<void> {
  const justOpened = await Promise.all([...opening]);
  const apps = new Set([...open, ...justOpened.filter((a): a is App => a !== null)]);
  open.clear();
  await Promise.allSettled([...apps].map((a) => a.close()));
}
