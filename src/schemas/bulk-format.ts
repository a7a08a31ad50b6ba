import path from 'node:path';
import { DossierError } from '../errors.js';

export type BulkFormat = 'json' | 'csv' | 'xlsx';

export function formatOf(file: string, explicit?: string): BulkFormat {
  const f = (explicit ?? path.extname(file).slice(1)).toLowerCase();
  if (f === 'json' || f === 'csv' || f === 'xlsx') return f;
  throw new DossierError('USAGE', `Cannot tell the format of ${file}.`, { hint: 'Use a .json, .csv or .xlsx file (or --format).' });
}
