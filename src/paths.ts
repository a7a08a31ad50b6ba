import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The package root is found by walking up from this file, so the same code works from src/ (tests)
// and from dist/ (the built CLI).
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const packageRoot = findPackageRoot();
export const migrationsDir = path.join(packageRoot, 'src', 'db', 'migrations');
export const defaultConfigPath = path.join(packageRoot, 'dossier.config.yaml');
export const fieldSchemasDir = path.join(packageRoot, 'field-schemas');
export const templatesDir = path.join(packageRoot, 'templates');
export const fixturesDir = path.join(packageRoot, 'fixtures');

export const CONFIG_FILE_NAME = 'dossier.config.yaml';

/** The nearest dossier.config.yaml in `dir` or a folder above it (as git finds .git), or null. */
export function findConfigUpwards(dir: string): string | null {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const file = path.join(d, CONFIG_FILE_NAME);
    if (existsSync(file)) return file;
    if (path.dirname(d) === d) return null;
  }
}

export interface HomeChoice { home: string; reason: string }

/**
 * The data home (embedded database, blobs, outbox, inbox), chosen the same way wherever a command
 * is run from: DOSSIER_HOME; else the `home` a configuration file sets, relative to that file;
 * else beside the configuration file in use (given, or found by walking up); else the XDG data
 * folder ($XDG_DATA_HOME/dossier or ~/.local/share/dossier).
 */
export function chooseHome(o: {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The last configuration file (not the shipped defaults) that sets `home`, with its value. */
  setBy: { file: string; value: string } | null;
  /** The configuration file in use, given or found, and the shipped default's `home` value. */
  configFile: string | null;
  defaultHome: string;
  homedir: () => string;
}): HomeChoice {
  if (o.env.DOSSIER_HOME) return { home: path.resolve(o.cwd, o.env.DOSSIER_HOME), reason: 'DOSSIER_HOME is set' };
  if (o.setBy) return { home: path.resolve(path.dirname(o.setBy.file), o.setBy.value), reason: `home: is set in ${o.setBy.file}` };
  if (o.configFile) return { home: path.resolve(path.dirname(o.configFile), o.defaultHome), reason: `beside the configuration file ${o.configFile}` };
  const xdg = o.env.XDG_DATA_HOME && path.isAbsolute(o.env.XDG_DATA_HOME) ? o.env.XDG_DATA_HOME : null;
  return xdg
    ? { home: path.join(xdg, 'dossier'), reason: 'no DOSSIER_HOME and no configuration file: the XDG data folder ($XDG_DATA_HOME/dossier)' }
    : { home: path.join(o.env.HOME || o.homedir(), '.local', 'share', 'dossier'), reason: 'no DOSSIER_HOME and no configuration file: the XDG data folder (~/.local/share/dossier)' };
}
