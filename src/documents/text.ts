import Handlebars from 'handlebars';
import { DossierError } from '../errors.js';
import type { ColumnDef, FieldDef } from '../schemas/types.js';
import { defaultDisplay, FILTERS, type FilterContext } from './filters.js';
import type { RenderData } from './evaluate.js';

// Email subjects and bodies (text and HTML) with Handlebars, with the document filters as helpers:
// {{loan_amount}} shows as staff see it, {{money loan_amount "int"}}, {{date $today "long"}},
// {{words loan_amount}}, {{default borrower_middle_name ""}}. A value missing for a top-level tag
// is an error listing every such tag, as in documents.

/** A value with its definition: shows as its default display, and helpers can see the raw value. */
class Cell {
  constructor(readonly raw: unknown, readonly def: FieldDef | ColumnDef | null) {}
  toString(): string {
    return defaultDisplay(this.raw, { field: this.def, lang: 'ru' }) ?? '';
  }
}

const SPECIAL_DEFS: Record<string, ColumnDef> = { $today: { id: '$today', type: 'date', label: { ru: 'сегодня', en: 'today' } } };

// A package renders several names, a subject and a body from one recipient's data: the context
// (a wrapper per field) is built once per data object, each template compiled once per process.
const contexts = new WeakMap<RenderData, Record<string, unknown>>();
const compiled = new Map<string, { template: HandlebarsTemplateDelegate; ast: hbs.AST.Program }>();
const MAX_COMPILED = 500;

function contextOf(data: RenderData): Record<string, unknown> {
  let ctx = contexts.get(data);
  if (!ctx) contexts.set(data, (ctx = buildContext(data)));
  return ctx;
}

function compiledOf(source: string, html: boolean): { template: HandlebarsTemplateDelegate; ast: hbs.AST.Program } {
  const key = `${html ? 'h' : 't'}:${source}`;
  let c = compiled.get(key);
  if (!c) {
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    c = { ast: env.parse(source), template: env.compile(source, { noEscape: !html, strict: false, knownHelpersOnly: false }) };
    compiled.set(key, c);
  }
  return c;
}

function buildContext(data: RenderData): Record<string, unknown> {
  const ctx: Record<string, unknown> = {};
  for (const [id, def] of data.fields) {
    const v = data.values[id] ?? null;
    if (def.type === 'table' && Array.isArray(v)) {
      const cols = new Map((def.columns ?? []).map((c) => [c.id, c]));
      ctx[id] = v.map((row) => Object.fromEntries(Object.entries(row).map(([k, x]) => [k, new Cell(x, cols.get(k) ?? null)])));
    } else ctx[id] = v === null ? null : new Cell(v, def);
  }
  for (const [k, v] of Object.entries(data.specials)) ctx[k] = v === null ? null : new Cell(v, SPECIAL_DEFS[k] ?? null);
  return ctx;
}

function createEnvironment(): typeof Handlebars {
  const hb = Handlebars.create();
  for (const [name, spec] of FILTERS) {
    hb.registerHelper(name, (...args: unknown[]) => {
      const params = args.slice(0, -1);
      const [first, arg] = params;
      const cell = first instanceof Cell ? first : new Cell(first ?? null, null);
      const ctx: FilterContext = { field: cell.def, lang: 'ru' };
      const out = spec.apply(cell.raw, arg === undefined ? undefined : String(arg), ctx);
      if (spec.condition) return out;
      return typeof out === 'string' ? out : (defaultDisplay(out, ctx) ?? '');
    });
  }
  // {{#if}} and {{#unless}} must look at the value, not at its wrapper (an object is always truthy).
  const truthy = (v: unknown) => {
    const x = v instanceof Cell ? v.raw : v;
    return !(x === null || x === undefined || x === false || x === '' || x === 0 || (Array.isArray(x) && x.length === 0));
  };
  hb.registerHelper('if', function (this: unknown, cond: unknown, options: Handlebars.HelperOptions) {
    return truthy(cond) ? options.fn(this) : options.inverse(this);
  });
  hb.registerHelper('unless', function (this: unknown, cond: unknown, options: Handlebars.HelperOptions) {
    return truthy(cond) ? options.inverse(this) : options.fn(this);
  });
  return hb;
}
const env = createEnvironment();

/** Paths printed at the top level whose value is missing (inside blocks the context changes). */
function missingTags(ast: hbs.AST.Program, ctx: Record<string, unknown>): string[] {
  const missing = new Set<string>();
  for (const node of ast.body) {
    if (node.type !== 'MustacheStatement') continue;
    const m = node as hbs.AST.MustacheStatement;
    const path = m.path as hbs.AST.PathExpression;
    const isHelper = m.params.length > 0 || FILTERS.has(path.original);
    const target = isHelper ? (m.params[0] as hbs.AST.PathExpression | undefined) : path;
    if (!target || target.type !== 'PathExpression') continue;
    if (isHelper && (path.original === 'default' || FILTERS.get(path.original)?.condition || path.original === 'tick')) continue;
    const v = ctx[target.original];
    if (v === null || v === undefined) missing.add(`{{${isHelper ? path.original + ' ' : ''}${target.original}}}`);
  }
  return [...missing];
}

export function renderText(source: string, data: RenderData, opts: { html?: boolean; name?: string } = {}): string {
  const name = opts.name ?? 'the message template';
  const ctx = contextOf(data);
  try {
    const { ast, template } = compiledOf(source, Boolean(opts.html));
    const missing = missingTags(ast, ctx);
    if (missing.length) {
      throw new DossierError('RENDER_MISSING_VALUES', `${name} needs values the record does not have: ${missing.join(', ')}.`, {
        hint: 'Set them, or use {{default field "…"}} for optional ones.',
        details: { missing },
      });
    }
    return template(ctx);
  } catch (err) {
    if (err instanceof DossierError) throw err;
    throw new DossierError('TEMPLATE_INVALID', `${name}: ${(err as Error).message}`, { hint: 'Check the {{…}} tags and helper names (templates/README.md).' });
  }
}
