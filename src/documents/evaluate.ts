import type { ColumnDef, FieldDef, FieldValue } from '../schemas/types.js';
import { defaultDisplay, FILTERS, type FilterContext } from './filters.js';
import type { ParsedTag } from './tags.js';

// Turns a parsed tag into what the document shows, from one section's values (base, or a recipient's
// effective values) and the record's schema version.

export interface RenderData {
  /** Effective values of the section being rendered, by field id. */
  values: Record<string, FieldValue>;
  fields: Map<string, FieldDef>;
  /** $ref, $title, $today (ISO date), $recipient_name, $recipient_key, $schema_version */
  specials: Record<string, string | number | null>;
  lang: 'ru' | 'en';
}

/** Inside a loop over a table field: the row and the table's columns. */
export interface LoopScope { row: Record<string, unknown>; columns: Map<string, ColumnDef> }

export type Evaluated =
  | { kind: 'value'; value: unknown } // formatted text, or a boolean for conditions, or rows for loops
  | { kind: 'missing' } // the field has no value and no default
  | { kind: 'unknown'; problem: string }; // not a field of this version (lint should have caught it)

const SPECIAL_TYPES: Record<string, FieldDef['type']> = { $today: 'date', $schema_version: 'number' };

function definitionOf(name: string, data: RenderData, scope: LoopScope | undefined): { def: FieldDef | ColumnDef | null; value: unknown } | null {
  if (name.startsWith('$')) {
    if (!(name in data.specials)) return null;
    const type = SPECIAL_TYPES[name];
    return { def: type ? ({ id: name, type, label: { ru: name, en: name } } as ColumnDef) : null, value: data.specials[name] };
  }
  if (scope?.columns.has(name)) return { def: scope.columns.get(name)!, value: scope.row[name] ?? null };
  const def = data.fields.get(name);
  if (!def) return null;
  return { def, value: data.values[name] ?? null };
}

const isEmpty = (v: unknown) => v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);

/**
 * Applies the filters left to right. A value no filter formatted is shown as staff see it (the
 * field type's default display); a missing value with no `default` is reported as missing.
 */
export function evaluateTag(tag: ParsedTag, data: RenderData, scope?: LoopScope, opts: { section?: boolean } = {}): Evaluated {
  const found = definitionOf(tag.name, data, scope);
  if (!found) return { kind: 'unknown', problem: `"${tag.name}" is not a field of this record's schema version` };
  const ctx: FilterContext = { field: found.def, lang: data.lang };
  let value: unknown = found.value;
  let formatted = false;
  for (const f of tag.filters) {
    const spec = FILTERS.get(f.name);
    if (!spec) return { kind: 'unknown', problem: `there is no filter "${f.name}"` };
    const before = value;
    value = spec.apply(value, f.arg, ctx);
    if (!(f.name === 'default' && value === before)) formatted = true;
  }
  // Sections ({#…}) take the raw value: rows to loop over, or a boolean.
  if (opts.section) return { kind: 'value', value };
  if (isEmpty(value) && !(formatted && value === '')) return { kind: 'missing' };
  if (!formatted || typeof value !== 'string') {
    const shown = defaultDisplay(value, ctx);
    if (shown === null) return { kind: 'missing' };
    return { kind: 'value', value: shown };
  }
  return { kind: 'value', value };
}
