import path from 'node:path';
import { redactUrl } from '../../app.js';
import { loadConfig, type LoadConfigOptions } from '../../config/load.js';

// `dossier where`: which configuration files and which data home this command would use, and why
// (run from any folder, it answers for that folder). Opens no database.

export interface WhereReport {
  cwd: string;
  configFiles: string[];
  configFile: string | null;
  configReason: string;
  home: string;
  homeReason: string;
  database: string;
  blobs: string;
}

export function where(o: LoadConfigOptions & { cwd: string }): WhereReport {
  const c = loadConfig(o);
  return {
    cwd: o.cwd,
    configFiles: c.files,
    configFile: c.configFile,
    configReason: c.configReason,
    home: c.home,
    homeReason: c.homeReason,
    database: c.config.database.url ? redactUrl(c.config.database.url) : `embedded PostgreSQL in ${path.join(c.home, 'pg')}`,
    blobs: c.config.storage.blobs === 'postgres' ? 'in the database (storage.blobs: postgres)' : path.join(c.home, 'blobs'),
  };
}

export const renderWhere = (w: WhereReport) =>
  [
    `home      ${w.home}`,
    `          (${w.homeReason})`,
    `config    ${w.configFile ?? 'the shipped defaults only'}`,
    `          (${w.configReason})`,
    ...(w.configFiles.length > 1 ? [`          read in order: ${w.configFiles.join(', ')}`] : []),
    `database  ${w.database}`,
    `files     ${w.blobs}`,
    '',
    'Every command run from here uses this home. Set DOSSIER_HOME (or DOSSIER_CONFIG) to pin one for every folder.',
  ].join('\n');
