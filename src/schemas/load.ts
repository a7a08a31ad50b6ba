import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML, { LineCounter } from 'yaml';
import { FIELD_TYPES, type ColumnDef, type EnumOption, type FieldDef, type FieldType, type Label, type SchemaVersion, type SectionDef, type Validation } from './types.js';

// Reads one schema file into a SchemaVersion and reports every problem with its file, line and field
// id. The checks that compare versions with each other are in versions.ts.

export interface SchemaProblem { file: string; line: number; field?: string; message: string }

export function formatProblem(p: SchemaProblem): string {
  return `${p.file}:${p.line}${p.field ? ` [${p.field}]` : ''}: ${p.message}`;
}

const ID = /^[a-z][a-z0-9_]*$/;
const TEXTUAL: FieldType[] = ['text', 'email', 'phone'];
const NUMERIC: FieldType[] = ['number', 'money'];
const FIELD_KEYS = new Set(['id', 'type', 'label', 'required', 'scope', 'overridable', 'retired', 'validation', 'format', 'options', 'columns', 'hint']);
const VALIDATION_KEYS = new Set(['pattern', 'min', 'max', 'minLength', 'maxLength', 'integer', 'maxRows']);
const FORMAT_KEYS = new Set(['case', 'currency', 'digits', 'mask', 'placeholder']);

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface LoadResult {
  schema: SchemaVersion | null;
  problems: SchemaProblem[];
  /** What could be read even with problems: the checks between versions still run on it, so that
   *  validate reports those problems too instead of hiding them behind the first ones. */
  partial?: SchemaVersion;
}

export function sha256Of(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `<dir>/<type>/v<N>.yaml` → { type, version } or null for other files. */
export function schemaFileName(file: string): { type: string; version: number } | null {
  const m = /^v(\d+)\.ya?ml$/.exec(path.basename(file));
  return m ? { type: path.basename(path.dirname(file)), version: Number(m[1]) } : null;
}

export function loadSchemaFile(file: string, displayName = file): LoadResult {
  const text = readFileSync(file, 'utf8');
  return parseSchemaText(text, displayName, schemaFileName(file));
}

export function parseSchemaText(text: string, file: string, expected: { type: string; version: number } | null): LoadResult {
  const problems: SchemaProblem[] = [];
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length) {
    for (const e of doc.errors) problems.push({ file, line: e.linePos?.[0].line ?? 1, message: `YAML: ${e.message.split('\n')[0]}` });
    return { schema: null, problems };
  }
  const lineOf = (p: (string | number)[]): number => {
    const node = doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
    return node?.range ? lineCounter.linePos(node.range[0]).line : 1;
  };
  const at = (p: (string | number)[], message: string, field?: string) => problems.push({ file, line: lineOf(p), message, ...(field ? { field } : {}) });

  const root = doc.toJS() as unknown;
  if (!isObj(root)) {
    at([], 'the file must be a mapping with type, version, title and sections');
    return { schema: null, problems };
  }
  const type = root.type;
  const version = root.version;
  if (typeof type !== 'string' || !ID.test(type)) at(['type'], 'type must be the record type, e.g. deal');
  if (!Number.isInteger(version) || (version as number) < 1) at(['version'], 'version must be a whole number from 1');
  if (expected && type !== expected.type) at(['type'], `type "${String(type)}" does not match the folder "${expected.type}"`);
  if (expected && version !== expected.version) at(['version'], `version ${String(version)} does not match the file name v${expected.version}`);
  const title = label(root.title, ['title'], 'title');
  for (const k of Object.keys(root)) if (!['type', 'version', 'title', 'notes', 'sections', 'recipient_kinds'].includes(k)) at([k], `unknown key "${k}"`);

  const sections: SectionDef[] = [];
  const fields = new Map<string, FieldDef>();
  const sectionIds = new Set<string>();

  function label(v: unknown, p: (string | number)[], what: string, field?: string): Label {
    if (!isObj(v) || typeof v.ru !== 'string' || typeof v.en !== 'string' || !v.ru.trim() || !v.en.trim()) {
      at(p, `${what} needs both ru and en text`, field);
      return { ru: String((isObj(v) && v.ru) ?? ''), en: String((isObj(v) && v.en) ?? '') };
    }
    return { ru: v.ru, en: v.en };
  }

  function options(v: unknown, p: (string | number)[], field: string): EnumOption[] {
    if (!Array.isArray(v) || v.length === 0) {
      at(p, 'an enum needs a list of options', field);
      return [];
    }
    const seen = new Set<string>();
    return v.map((o, i) => {
      const value = isObj(o) ? o.value : undefined;
      if (typeof value !== 'string' || !value) at([...p, i], 'each option needs a value (text)', field);
      else if (seen.has(value)) at([...p, i], `option value "${value}" appears twice`, field);
      seen.add(String(value));
      return { value: String(value), label: label(isObj(o) ? o.label : undefined, [...p, i], `option "${String(value)}" label`, field) };
    });
  }

  function validation(v: unknown, t: FieldType, p: (string | number)[], field: string): Validation | undefined {
    if (v === undefined) return undefined;
    if (!isObj(v)) {
      at(p, 'validation must be a mapping', field);
      return undefined;
    }
    for (const k of Object.keys(v)) if (!VALIDATION_KEYS.has(k)) at([...p, k], `unknown validation key "${k}"`, field);
    const only = (k: string, types: FieldType[], what: string) => {
      if (v[k] !== undefined && !types.includes(t)) at([...p, k], `${k} applies only to ${what}, not to ${t}`, field);
    };
    only('pattern', TEXTUAL, 'text, email and phone fields');
    only('minLength', TEXTUAL, 'text fields');
    only('maxLength', TEXTUAL, 'text fields');
    only('integer', ['number'], 'number fields');
    only('maxRows', ['table'], 'tables');
    only('min', [...NUMERIC, 'date'], 'numbers, money and dates');
    only('max', [...NUMERIC, 'date'], 'numbers, money and dates');
    if (typeof v.pattern === 'string') {
      try {
        new RegExp(v.pattern, 'u');
      } catch (err) {
        at([...p, 'pattern'], `pattern is not a valid regular expression: ${(err as Error).message}`, field);
      }
    } else if (v.pattern !== undefined) at([...p, 'pattern'], 'pattern must be text', field);
    for (const k of ['min', 'max'] as const) {
      const x = v[k];
      if (x === undefined) continue;
      if (t === 'date' ? typeof x !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(x) : typeof x !== 'number') {
        at([...p, k], t === 'date' ? `${k} of a date must be an ISO date like 2000-01-01` : `${k} must be a number`, field);
      }
    }
    if (typeof v.min === 'number' && typeof v.max === 'number' && v.min > v.max) at([...p, 'min'], `min ${v.min} is above max ${v.max}`, field);
    for (const k of ['minLength', 'maxLength', 'maxRows'] as const) {
      if (v[k] !== undefined && (!Number.isInteger(v[k]) || (v[k] as number) < 0)) at([...p, k], `${k} must be a whole number`, field);
    }
    return v as Validation;
  }

  function fieldType(v: unknown, p: (string | number)[], field: string): FieldType {
    if (typeof v !== 'string' || !(FIELD_TYPES as readonly string[]).includes(v)) {
      at(p, `unknown type "${String(v)}" (types: ${FIELD_TYPES.join(', ')})`, field);
      return 'text';
    }
    return v as FieldType;
  }

  function column(v: unknown, p: (string | number)[], field: string): ColumnDef {
    const c = isObj(v) ? v : {};
    const id = typeof c.id === 'string' && ID.test(c.id) ? c.id : '';
    if (!id) at(p, 'each column needs an id of lower-case letters, digits and _', field);
    const t = fieldType(c.type, [...p, 'type'], field);
    if (t === 'table') at([...p, 'type'], 'a table column cannot itself be a table', field);
    const col: ColumnDef = { id, type: t === 'table' ? 'text' : t, label: label(c.label, [...p, 'label'], `column "${id}" label`, field) };
    if (c.required !== undefined) col.required = c.required === true;
    const val = validation(c.validation, t, [...p, 'validation'], field);
    if (val) col.validation = val;
    if (t === 'enum') col.options = options(c.options, [...p, 'options'], field);
    if (isObj(c.format)) col.format = c.format;
    return col;
  }

  function section(raw: unknown, p: (string | number)[], recipientKind?: string): void {
    const s = isObj(raw) ? raw : {};
    const sid = typeof s.id === 'string' && ID.test(s.id) ? s.id : '';
    if (!sid) at(p, 'each section needs an id of lower-case letters, digits and _');
    else if (sectionIds.has(sid)) at([...p, 'id'], `section id "${sid}" appears twice`);
    sectionIds.add(sid);
    const sectionDef: SectionDef = { id: sid, label: label(s.label, [...p, 'label'], `section "${sid}" label`), fields: [] };
    if (recipientKind) sectionDef.recipientKind = recipientKind;
    if (!Array.isArray(s.fields)) {
      at(p, `section "${sid}" needs a list of fields`);
      return;
    }
    s.fields.forEach((rawField, i) => {
      const fp = [...p, 'fields', i];
      const f = isObj(rawField) ? rawField : {};
      const id = typeof f.id === 'string' ? f.id : '';
      // A bad or repeated id is one problem; the rest of the field is still checked and reported.
      const badId = !ID.test(id);
      if (badId) at(fp, `field id "${id}" must be lower-case letters, digits and _, starting with a letter`, id || undefined);
      for (const k of Object.keys(f)) if (!FIELD_KEYS.has(k)) at([...fp, k], `unknown key "${k}"`, id);
      const repeated = !badId && fields.has(id);
      if (repeated) at(fp, `field id "${id}" is used twice in this version (also on line ${fields.get(id)!.line})`, id);
      const t = fieldType(f.type, [...fp, 'type'], id);
      const scope = recipientKind ? 'recipient' : f.scope === undefined ? 'base' : f.scope;
      if (scope !== 'base' && scope !== 'recipient') at([...fp, 'scope'], 'scope must be base or recipient', id);
      if (recipientKind && f.scope === 'base') at([...fp, 'scope'], 'fields of a recipient kind are always scope recipient', id);
      for (const k of ['required', 'overridable', 'retired'] as const) {
        if (f[k] !== undefined && typeof f[k] !== 'boolean') at([...fp, k], `${k} must be true or false`, id);
      }
      if (f.overridable !== undefined && scope === 'recipient') at([...fp, 'overridable'], 'overridable applies only to base fields', id);
      const def: FieldDef = {
        id,
        type: t,
        label: label(f.label, [...fp, 'label'], 'label', id),
        required: f.required === true,
        scope: scope === 'recipient' ? 'recipient' : 'base',
        overridable: scope === 'base' && f.overridable !== false,
        retired: f.retired === true,
        section: sid,
        line: lineOf(fp),
      };
      if (recipientKind) def.recipientKind = recipientKind;
      const val = validation(f.validation, t, [...fp, 'validation'], id);
      if (val) def.validation = val;
      if (f.format !== undefined) {
        if (!isObj(f.format)) at([...fp, 'format'], 'format must be a mapping', id);
        else {
          for (const k of Object.keys(f.format)) if (!FORMAT_KEYS.has(k)) at([...fp, 'format', k], `unknown format hint "${k}"`, id);
          def.format = f.format;
        }
      }
      if (f.hint !== undefined) def.hint = label(f.hint, [...fp, 'hint'], 'hint', id);
      if (t === 'enum') def.options = options(f.options, [...fp, 'options'], id);
      else if (f.options !== undefined) at([...fp, 'options'], 'options apply only to enum fields', id);
      if (t === 'table') {
        if (!Array.isArray(f.columns) || f.columns.length === 0) at(fp, 'a table needs a list of columns', id);
        else {
          def.columns = f.columns.map((c, j) => column(c, [...fp, 'columns', j], id));
          const ids = new Set<string>();
          def.columns.forEach((c, j) => {
            if (c.id && ids.has(c.id)) at([...fp, 'columns', j], `column id "${c.id}" appears twice`, id);
            ids.add(c.id);
          });
        }
      } else if (f.columns !== undefined) at([...fp, 'columns'], 'columns apply only to table fields', id);
      if (badId || repeated) return;
      fields.set(id, def);
      sectionDef.fields.push(def);
    });
    sections.push(sectionDef);
  }

  if (!Array.isArray(root.sections) || root.sections.length === 0) at(['sections'], 'sections must be a non-empty list');
  else root.sections.forEach((s, i) => section(s, ['sections', i]));
  if (root.recipient_kinds !== undefined) {
    if (!isObj(root.recipient_kinds)) at(['recipient_kinds'], 'recipient_kinds must map a party kind to its sections');
    else {
      for (const [kind, v] of Object.entries(root.recipient_kinds)) {
        if (!isObj(v) || !Array.isArray(v.sections)) {
          at(['recipient_kinds', kind], `recipient kind "${kind}" needs a list of sections`);
          continue;
        }
        v.sections.forEach((s, i) => section(s, ['recipient_kinds', kind, 'sections', i], kind));
      }
    }
  }

  const schema: SchemaVersion = { type: type as string, version: version as number, title, sections, fields, file, sha256: sha256Of(text) };
  if (typeof root.notes === 'string') schema.notes = root.notes;
  if (problems.length) return { schema: null, problems, partial: schema };
  return { schema, problems };
}

// ---------------------------------------------------------------------------------------------
// Field roles (field-schemas/roles.yaml): which field of a record type plays a part intake relies
// on. Kept beside the versions rather than in them, because published version files never change.

/** Each role and the field types it accepts; decision roles live in a recipient's section. */
export const FIELD_ROLES = {
  client_last_name: { types: ['text'], recipient: false },
  client_first_name: { types: ['text'], recipient: false },
  client_middle_name: { types: ['text'], recipient: false },
  client_name: { types: ['text'], recipient: false },
  vehicle_plate: { types: ['text'], recipient: false },
  decision: { types: ['enum'], recipient: true },
  decision_date: { types: ['date'], recipient: true },
  decision_amount: { types: ['money'], recipient: true },
  decision_comment: { types: ['text'], recipient: true },
} as const satisfies Record<string, { types: readonly FieldType[]; recipient: boolean }>;

export type FieldRole = keyof typeof FIELD_ROLES;
/** Per record type: role → field id. */
export type FieldRoles = Record<string, Partial<Record<FieldRole, string>>>;

export const ROLES_FILE = 'roles.yaml';
const DECISIONS = ['approved', 'declined', 'more_info'];

/** Parses roles.yaml; a missing file is no roles (and no problems). */
export function loadRoles(dir: string): { roles: FieldRoles; problems: SchemaProblem[] } {
  const file = path.join(dir, ROLES_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { roles: {}, problems: [] };
  }
  return parseRolesText(text, file);
}

export function parseRolesText(text: string, file: string): { roles: FieldRoles; problems: SchemaProblem[] } {
  const problems: SchemaProblem[] = [];
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter });
  if (doc.errors.length) return { roles: {}, problems: doc.errors.map((e) => ({ file, line: e.linePos?.[0]?.line ?? 1, message: e.message })) };
  const lineOf = (p: string[]) => {
    const node = doc.getIn(p, true) as { range?: [number] } | undefined;
    return node?.range ? lineCounter.linePos(node.range[0]).line : 1;
  };
  const raw = doc.toJS() as unknown;
  const roles: FieldRoles = {};
  if (raw === null || raw === undefined) return { roles, problems };
  if (!isObj(raw)) return { roles, problems: [{ file, line: 1, message: 'must map record types to { role: field id }' }] };
  for (const [type, map] of Object.entries(raw)) {
    if (!isObj(map)) {
      problems.push({ file, line: lineOf([type]), message: `${type}: must map roles to field ids` });
      continue;
    }
    roles[type] = {};
    for (const [role, field] of Object.entries(map)) {
      if (!(role in FIELD_ROLES)) problems.push({ file, line: lineOf([type, role]), message: `${type}: "${role}" is not a field role (roles: ${Object.keys(FIELD_ROLES).join(', ')})` });
      else if (typeof field !== 'string' || !ID.test(field)) problems.push({ file, line: lineOf([type, role]), message: `${type}.${role}: must be a field id` });
      else roles[type]![role as FieldRole] = field;
    }
  }
  return { roles, problems };
}

/** Whether every role's field is in each version of its type, of a type the role accepts. */
export function roleProblems(roles: FieldRoles, versions: SchemaVersion[], file: string): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const v of versions) {
    for (const [role, id] of Object.entries(roles[v.type] ?? {}) as [FieldRole, string][]) {
      const want = FIELD_ROLES[role];
      const f = v.fields.get(id);
      const at = `${v.type} v${v.version}`;
      if (!f) problems.push({ file, line: 1, field: id, message: `${v.type}.${role}: ${at} has no field "${id}"` });
      else if (!(want.types as readonly string[]).includes(f.type)) problems.push({ file, line: 1, field: id, message: `${v.type}.${role}: "${id}" in ${at} is ${f.type}, the role needs ${want.types.join(' or ')}` });
      else if (want.recipient && f.scope !== 'recipient' && !f.recipientKind) problems.push({ file, line: 1, field: id, message: `${v.type}.${role}: "${id}" in ${at} must be a recipient's field (a bank's or insurer's decision)` });
      else if (role === 'decision' && DECISIONS.some((d) => !f.options?.some((o) => o.value === d))) problems.push({ file, line: 1, field: id, message: `${v.type}.${role}: "${id}" in ${at} needs the options ${DECISIONS.join(', ')}` });
    }
  }
  return problems;
}
