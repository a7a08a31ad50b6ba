import type { FieldDef, FieldType, SchemaVersion } from './types.js';
import type { SchemaProblem } from './load.js';
import { sameValue } from './same.js';

// Rules between the versions of one record type: values typed under an older version must still
// read under every later one.

const COMPATIBLE: FieldType[][] = [['text', 'email', 'phone'], ['number', 'money']];

export function typesCompatible(a: FieldType, b: FieldType): boolean {
  return a === b || COMPATIBLE.some((g) => g.includes(a) && g.includes(b));
}

/** Problems of consecutive versions (sorted by version) of one type. */
export function crossVersionProblems(versions: SchemaVersion[]): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  // Every id ever used and where it was retired, over all earlier versions.
  const retiredIn = new Map<string, number>();
  const everSeen = new Map<string, { version: number; def: FieldDef }>();
  for (const v of sorted) {
    for (const [id, prior] of everSeen) {
      const now = v.fields.get(id);
      if (!now) {
        problems.push({ file: v.file, line: 1, field: id, message: `field "${id}" of v${prior.version} is missing: never delete a field, mark it retired: true so old values keep their meaning` });
        continue;
      }
      const retiredAt = retiredIn.get(id);
      if (retiredAt !== undefined && !now.retired) {
        problems.push({ file: v.file, line: now.line, field: id, message: `field "${id}" was retired in v${retiredAt} and cannot come back: a retired id is never reused; give the field a new id` });
      }
      if (!typesCompatible(prior.def.type, now.type)) {
        problems.push({ file: v.file, line: now.line, field: id, message: `type changed from ${prior.def.type} (v${prior.version}) to ${now.type}: existing values would not read; add a new field instead` });
      }
    }
    for (const [id, def] of v.fields) {
      if (def.retired && !retiredIn.has(id)) retiredIn.set(id, v.version);
      everSeen.set(id, { version: v.version, def });
    }
  }
  return problems;
}

export interface FieldChange { id: string; label: string; what: string[] }
export interface SchemaDiff { added: FieldDef[]; retired: FieldDef[]; changed: FieldChange[] }

// By meaning, not by JSON text: a published version comes back from PostgreSQL's jsonb with its keys
// reordered ({en, ru} for {ru, en}), a draft from its YAML file; both mean the same field.
const same = sameValue;

export function diffVersions(a: SchemaVersion, b: SchemaVersion): SchemaDiff {
  const diff: SchemaDiff = { added: [], retired: [], changed: [] };
  for (const [id, fb] of b.fields) {
    const fa = a.fields.get(id);
    if (!fa || (fa.retired && !fb.retired)) {
      if (!fb.retired) diff.added.push(fb);
      continue;
    }
    if (!fa.retired && fb.retired) {
      diff.retired.push(fb);
      continue;
    }
    const what: string[] = [];
    if (fa.type !== fb.type) what.push(`type ${fa.type} → ${fb.type}`);
    if (!same(fa.label, fb.label)) what.push(fa.label.ru === fb.label.ru ? `English label «${fa.label.en}» → «${fb.label.en}»` : `label «${fa.label.ru}» → «${fb.label.ru}»`);
    if (!same(fa.hint, fb.hint)) what.push('hint');
    if (Boolean(fa.required) !== Boolean(fb.required)) what.push(fb.required ? 'now required' : 'no longer required');
    if (fa.scope !== fb.scope) what.push(`scope ${fa.scope} → ${fb.scope}`);
    if (Boolean(fa.overridable) !== Boolean(fb.overridable)) what.push(fb.overridable ? 'now overridable' : 'no longer overridable');
    if (!same(fa.validation, fb.validation)) what.push(`validation ${JSON.stringify(fa.validation ?? {})} → ${JSON.stringify(fb.validation ?? {})}`);
    if (!same(fa.format, fb.format)) what.push('format hints');
    if (!same(fa.options, fb.options)) {
      const va = new Set((fa.options ?? []).map((o) => o.value));
      const vb = new Set((fb.options ?? []).map((o) => o.value));
      const plus = [...vb].filter((x) => !va.has(x));
      const minus = [...va].filter((x) => !vb.has(x));
      what.push(plus.length || minus.length ? `options ${[...plus.map((x) => '+' + x), ...minus.map((x) => '−' + x)].join(' ')}` : 'option labels');
    }
    if (!same(fa.columns, fb.columns)) what.push('table columns');
    if (fa.section !== fb.section) what.push(`moved to section ${fb.section}`);
    if (what.length) diff.changed.push({ id, label: fb.label.ru, what });
  }
  return diff;
}
