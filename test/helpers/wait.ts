import { setTimeout as sleep } from 'node:timers/promises';

// The integration tests' waits are hang-catchers, never speed assertions. Each is written as what the
// work takes alone on two cores and stretched by LOADED: on a loaded machine (the whole suite beside
// another CPU-heavy process, `npm run test:under-load`, or a busy CI host) everything takes several
// times longer, and a wait that fails there says nothing about Dossier. Speed is measured in
// `npm run bench`.
export const LOADED = 5;

/** Polls `probe` every 100 ms until it gives a truthy value; fails after `msAlone` × LOADED, naming `what`. */
export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, msAlone = 30_000): Promise<T> {
  const ms = msAlone * LOADED;
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}
