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

/** Objects merge key by key; arrays and scalars from the later layer replace the earlier one. */
function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? deepMerge(prev, v) : v;
  }
  return out;
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

function envLayer(env: NodeJS.ProcessEnv): { layer: Plain; sources: Map<string, string> } {
  const layer: Plain = {};
  const sources = new Map<string, string>();
  const set = (keys: string[], raw: string, name: string) => {
    let node = layer;
    keys.slice(0, -1).forEach((k) => {
      if (!isPlain(node[k])) node[k] = {};
      node = node[k] as Plain;
    });
    const last = keys[keys.length - 1]!;
    node[last] = raw === '' ? null : YAML.parse(raw);
    sources.set(keys.join('.'), name);
  };
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith('DOSSIER_') || RESERVED_ENV.has(name)) continue;
    const keys = name.slice('DOSSIER_'.length).split('__').map(snakeToCamel);
    // A URL or path must stay a string even if it looks like YAML.
    if (name === 'DOSSIER_HOME') set(['home'], raw, name);
    else if (keys.every((k) => k.length > 0)) set(keys, raw, name);
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
  const { layer, sources } = envLayer(env);
  merged = deepMerge(merged, layer);

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
