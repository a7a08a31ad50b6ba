import { openApp, type App, type OpenAppOptions } from '../app.js';

// The apps this process has open, so that a signal can close them (and stop the embedded server)
// before the process exits.
const open = new Set<App>();

export async function withApp<T>(options: OpenAppOptions, fn: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(options);
  open.add(app);
  try {
    return await fn(app);
  } finally {
    open.delete(app);
    await app.close();
  }
}

export async function closeAll(): Promise<void> {
  const apps = [...open];
  open.clear();
  await Promise.allSettled(apps.map((a) => a.close()));
}
