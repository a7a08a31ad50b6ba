import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DossierError } from '../errors.js';
import os from 'node:os';
import { chooseHome, defaultConfigPath, findConfigUpwards, CONFIG_FILE_NAME } from '../paths.js';
import { ConfigSchema, type Config } from './schema.js';

export interface LoadedConfig {
  config: Config;
  /** The files laid over each other, the shipped default first. */
  files: string[];
  /** Absolute data directory: see chooseHome in paths.ts. */
  home: string;
  /** Why that home, for `dossier where`. */
  homeReason: string;
  /** The configuration file in use besides the defaults (given, or found by walking up), and how it was found. */
  configFile: string | null;
  configReason: string;
}

export interface LoadConfigOptions {
  /** --config */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Objects merge key by key; arrays and scalars from the later layer replace the earlier one, except
 * that an object laid over an array addresses its items: by index (DOSSIER_INTAKE__MAILBOXES__0__PASSWORD)
 * or by the item's name (DOSSIER_INTAKE__MAILBOXES__CLAIMS__PASSWORD for the mailbox named "claims").
 */
function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? deepMerge(prev, v) : Array.isArray(prev) && isPlain(v) ? mergeItems(prev, v) : v;
  }
  return out;
}

const looseName = (s: string) => s.toLowerCase().replace(/[-_]/g, '');

function mergeItems(items: unknown[], over: Plain): unknown[] {
  const out = [...items];
  for (const [k, v] of Object.entries(over)) {
    let i = /^\d+$/.test(k) ? Number(k) : out.findIndex((item) => isPlain(item) && typeof item.name === 'string' && looseName(item.name) === looseName(k));
    if (i < 0) i = out.length; // a new item, named by the key: the schema then says what it lacks
    const prev = out[i];
    out[i] = isPlain(prev) && isPlain(v) ? deepMerge(prev, v) : isPlain(v) && i === out.length && !/^\d+$/.test(k) ? { name: k, ...v } : v;
  }
  return out;
}

// Secrets from files, as container and systemd setups hand them over (/run/secrets/…,
// $CREDENTIALS_DIRECTORY/…): a `passwordFile:` (urlFile:, tokenSecretFile:) key beside the setting, or a
// DOSSIER_…_FILE variable (DOSSIER_MAIL__SMTP__PASSWORD_FILE, DATABASE_URL_FILE). The file's text,
// without its final line break, is the value.
const SECRET_KEYS = new Set(['password', 'url', 'tokenSecret']);

function readSecret(file: string, cwd: string, where: string, problems: string[]): string | null {
  try {
    return readFileSync(path.resolve(cwd, file), 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    problems.push(`${where}: cannot read the secret file ${path.resolve(cwd, file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return null;
  }
}

/** Replaces every `<secret>File: path` key by `<secret>: the file's text`. */
function resolveSecretFiles(node: unknown, at: string[], cwd: string, problems: string[], sources: Map<string, string>): void {
  if (Array.isArray(node)) return node.forEach((item, i) => resolveSecretFiles(item, [...at, String(i)], cwd, problems, sources));
  if (!isPlain(node)) return;
  for (const key of Object.keys(node)) {
    const m = /^(.+)File$/.exec(key);
    if (m && SECRET_KEYS.has(m[1]!)) {
      const file = node[key];
      delete node[key];
      if (file === null || file === undefined) continue;
      if (typeof file !== 'string') {
        problems.push(`${[...at, key].join('.')}: must be the path of a file`);
        continue;
      }
      const value = readSecret(file, cwd, [...at, key].join('.'), problems);
      if (value !== null) {
        node[m[1]!] = value;
        sources.set([...at, m[1]!].join('.'), `${[...at, key].join('.')} (${file})`);
      }
    } else resolveSecretFiles(node[key], [...at, key], cwd, problems, sources);
  }
}

function readYaml(file: string, problems: string[]): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DossierError('CONFIG_NOT_FOUND', `Cannot read the configuration file ${file}: ${(err as Error).message}`, {
      hint: 'Check the path given with --config or DOSSIER_CONFIG.',
    });
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) problems.push(`${file}:${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`);
    return {};
  }
  const value: unknown = doc.toJS() ?? {};
  if (!isPlain(value)) {
    problems.push(`${file}: the top level must be a mapping of settings`);
    return {};
  }
  return value;
}

const snakeToCamel = (s: string): string => s.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

// DOSSIER_A__B_C=v sets a.bC; values are read as YAML scalars so numbers and booleans keep their type.
// These names are not settings: they pick the file, or are read elsewhere.
const RESERVED_ENV = new Set(['DOSSIER_CONFIG', 'DOSSIER_USER', 'DOSSIER_DEBUG']);

function envLayer(env: NodeJS.ProcessEnv, cwd: string, problems: string[]): { layer: Plain; sources: Map<string, string> } {
  const layer: Plain = {};
  const sources = new Map<string, string>();
  const set = (keys: string[], raw: string, name: string) => {
    let node = layer;
    keys.slice(0, -1).forEach((k) => {
      if (!isPlain(node[k])) node[k] = {};
      node = node[k] as Plain;
    });
    const last = keys[keys.length - 1]!;
    node[last] = raw === '' ? null : SECRET_KEYS.has(last) || last === 'user' ? raw : YAML.parse(raw);
    sources.set(keys.join('.'), name);
  };
  // Passwords are text whatever they look like ("12345", "yes", "[x]").
  const setText = (keys: string[], text: string, name: string) => {
    set(keys, '', name);
    let node = layer;
    keys.slice(0, -1).forEach((k) => (node = node[k] as Plain));
    node[keys[keys.length - 1]!] = text;
  };
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith('DOSSIER_') || RESERVED_ENV.has(name)) continue;
    const secretFile = /^(.+)_FILE$/.exec(name);
    if (secretFile && env[secretFile[1]!] === undefined) {
      // DOSSIER_X__PASSWORD_FILE=/run/secrets/x: the value of x.password is in that file (kept as text).
      const keys = secretFile[1]!.slice('DOSSIER_'.length).split('__').map(snakeToCamel);
      const value = readSecret(raw, cwd, name, problems);
      if (value !== null && keys.every((k) => k.length > 0)) setText(keys, value, name);
      continue;
    }
    const keys = name.slice('DOSSIER_'.length).split('__').map(snakeToCamel);
    // A URL or path must stay a string even if it looks like YAML.
    if (name === 'DOSSIER_HOME') set(['home'], raw, name);
    else if (keys.every((k) => k.length > 0)) set(keys, raw, name);
  }
  if (env.DATABASE_URL_FILE && !env.DATABASE_URL && !env.DOSSIER_DATABASE__URL && !env.DOSSIER_DATABASE__URL_FILE) {
    const value = readSecret(env.DATABASE_URL_FILE, cwd, 'DATABASE_URL_FILE', problems);
    if (value !== null) setText(['database', 'url'], value, 'DATABASE_URL_FILE');
  }
  if (env.DATABASE_URL && !env.DOSSIER_DATABASE__URL) {
    (layer.database as Plain | undefined) ?? (layer.database = {});
    (layer.database as Plain).url = env.DATABASE_URL;
    sources.set('database.url', 'DATABASE_URL');
  }
  return { layer, sources };
}

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];
  const files = [defaultConfigPath];

  const explicit = options.configPath ?? env.DOSSIER_CONFIG;
  if (explicit) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file)) {
      throw new DossierError('CONFIG_NOT_FOUND', `The configuration file ${file} does not exist.`, {
        hint: `Check the path given with ${options.configPath ? '--config' : 'DOSSIER_CONFIG'}.`,
      });
    }
    files.push(file);
  }
  // Without one given, the nearest dossier.config.yaml from the working folder upwards (in a clone
  // of this repository that is the shipped file itself: the defaults, and the home beside them).
  const configFile = explicit ? files[1]! : findConfigUpwards(cwd);
  const configReason = explicit
    ? `given with ${options.configPath ? '--config' : 'DOSSIER_CONFIG'}`
    : configFile
      ? `found from ${cwd} upwards`
      : `no ${CONFIG_FILE_NAME} in ${cwd} or above it, and no --config or DOSSIER_CONFIG`;
  if (configFile && !explicit && path.resolve(configFile) !== path.resolve(defaultConfigPath)) files.push(configFile);

  let merged: Plain = {};
  let homeSetBy: { file: string; value: string } | null = null;
  let defaultHome = './.dossier';
  for (const file of files) {
    const layer = readYaml(file, problems);
    if (typeof layer.home === 'string') {
      if (file === defaultConfigPath) defaultHome = layer.home;
      else homeSetBy = { file, value: layer.home };
    }
    merged = deepMerge(merged, layer);
  }
  const { layer, sources } = envLayer(env, cwd, problems);
  merged = deepMerge(merged, layer);
  resolveSecretFiles(merged, [], cwd, problems, sources);

  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const at = issue.path.join('.') || '(top level)';
      const from = sources.get(at) ? ` (from ${sources.get(at)})` : '';
      problems.push(`${at}: ${issue.message}${from}`);
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new DossierError('CONFIG_INVALID', `The configuration has ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`, {
      hint: `Fix them in ${files.slice(1).join(', ') || 'the DOSSIER_* variables'} (files read: ${files.join(', ')}).`,
      details: { problems, files },
    });
  }
  const config = result.data;
  const { home, reason } = chooseHome({ env, cwd, setBy: homeSetBy, configFile, defaultHome, homedir: os.homedir });
  config.home = home;
  return { config, files, home, homeReason: reason, configFile, configReason };
}
