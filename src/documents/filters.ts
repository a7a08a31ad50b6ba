// The fixed set of filters that templates may use: `{loan_amount | words}` in DOCX, helpers in
// Handlebars, mapping strings for PDF forms. There is deliberately no expression language: a filter
// is a name, at most one argument, and a pure function of the value it is given.
//
// Money arrives as exact decimal text ("1500000.00") and is only ever handled as digit strings and
// bigints, so an amount of 10^15 roubles prints and spells exactly. A filter given a value of the
// wrong kind throws a FilterError with a sentence; the caller adds where the tag is.

import { toCardinal as ruCardinal } from 'n2words/ru-RU';
import { toCardinal as enCardinal } from 'n2words/en-US';
import type { ColumnDef, FieldDef, FieldValue } from '../schemas/types.js';
import { displayValue, parseDate } from '../schemas/values.js';
import { decimalOf, formatDecimal, roundDecimal, type Decimal } from '../money.js';
import { isTicked } from './ticks.js';

export type FilterArg = string | undefined;

export interface FilterContext {
  /** The schema definition of the value; null for specials like $today. */
  field: FieldDef | ColumnDef | null;
  lang: 'ru' | 'en';
}

export interface FilterSpec {
  name: string;
  /**
   * What the filter accepts, for template lint: field types it may be applied to ('any' for all),
   * whether it takes an argument, and the allowed argument values (undefined = free text).
   */
  appliesTo: readonly (FieldDef['type'] | 'any')[];
  arg: 'none' | 'optional' | 'required';
  argValues?: readonly string[];
  /** true for filters whose result is a boolean meant for {#…} conditions */
  condition?: boolean;
  /**
   * Further rules that depend on the field and the argument together (e.g. `tick` needs an option
   * value on an enum but nothing on a yes/no field). A problem sentence for lint, or null.
   * Only called once the generic rules (appliesTo, arg, argValues) have passed.
   */
  check?(ctx: FilterContext, arg: FilterArg): string | null;
  apply(value: unknown, arg: FilterArg, ctx: FilterContext): unknown;
}

/** A value a filter cannot work on; the caller turns it into a DossierError with the tag's location. */
export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const NBSP = '\u00A0';
const DATE_PATTERN = /^(?:dd|MM|yyyy|yy|[ .\/-])+$/;

/** A value as quoted in a problem sentence: short, and never an object dump. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '…' : value);
  if (Array.isArray(value)) return 'a table';
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

const fieldName = (ctx: FilterContext): string => (ctx.field ? `field "${ctx.field.id}"` : 'the value');

const isEmpty = (v: unknown): boolean => v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);

/** First character upper case; the rest as it is. */
const capitalizeFirst = (s: string): string => {
  const first = s.codePointAt(0);
  if (first === undefined) return s;
  const ch = String.fromCodePoint(first);
  return ch.toUpperCase() + s.slice(ch.length);
};

// ---------------------------------------------------------------------------------------------
// Decimals as digit strings (src/money.ts)

/**
 * An amount or number as digits: canonical money text ("-1500000.00"), any plain decimal text
 * ("0", "12.5" — e.g. from a `default` argument) or a finite JS number. Throws otherwise.
 */
function readDecimal(value: unknown, what: string): Decimal {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new FilterError(`${what} needs a number, got ${describe(value)}`);
  const d = decimalOf(value);
  if (!d) throw new FilterError(`${what} needs an amount or a number (e.g. 1500000.00), got ${describe(value)}`);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Exported formatting functions

const MONTHS_RU = ['января', 'февраля', 'марта', 'апреля', 'мая', 'июня', 'июля', 'августа', 'сентября', 'октября', 'ноября', 'декабря'];
const MONTHS_EN = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Year, month, day of a real ISO date ("2026-02-30" is refused); throws otherwise. */
function readIsoDate(value: unknown, what = 'the "date" filter'): [string, number, number] {
  // parseDate also accepts other spellings; only the canonical form is a stored date.
  const m = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value) : null;
  if (!m || parseDate(value as string) !== value) throw new FilterError(`${what} needs a date (YYYY-MM-DD), got ${describe(value)}`);
  return [m[1] ?? '', Number(m[2]), Number(m[3])];
}

/** "21 ноября 2026 г." / "21 November 2026": genitive month in Russian, no leading zero on the day. */
export function formatDateLong(iso: string, lang: 'ru' | 'en'): string {
  const [y, m, d] = readIsoDate(iso);
  return lang === 'ru' ? `${d} ${MONTHS_RU[m - 1]} ${y} г.` : `${d} ${MONTHS_EN[m - 1]} ${y}`;
}

/** "1 500 000,00" with U+00A0 between thousands groups; kopecks:false → "1 500 000" (rounded). */
export function formatMoney(decimal: string, opts: { kopecks?: boolean } = {}): string {
  const d = roundDecimal(readDecimal(decimal, 'an amount of money'), opts.kopecks === false ? 0 : 2);
  return formatDecimal(d, NBSP, ',');
}

/** Russian plural form: 1 рубль, 2–4 рубля, 5–20 рублей, 21 рубль, 111 рублей. */
function ruPlural(n: bigint, one: string, few: string, many: string): string {
  const [d10, d100] = [n % 10n, n % 100n];
  if (d100 >= 11n && d100 <= 14n) return many;
  if (d10 === 1n) return one;
  if (d10 >= 2n && d10 <= 4n) return few;
  return many;
}

/**
 * "Один миллион пятьсот тысяч рублей 00 копеек" / "One million five hundred thousand roubles 00 kopecks".
 * kopecksInWords spells kopecks too ("двадцать одна копейка" — kopeck is feminine in Russian).
 * Amounts with more than two decimals are rounded to the kopeck.
 */
export function amountInWords(decimal: string, lang: 'ru' | 'en', opts: { kopecksInWords?: boolean } = {}): string {
  const d = roundDecimal(readDecimal(decimal, 'an amount in words'), 2);
  const roubles = BigInt(d.int);
  const kopecks = BigInt(d.frac);
  const minus = d.negative ? (lang === 'ru' ? 'минус ' : 'minus ') : '';
  let text: string;
  if (lang === 'ru') {
    const kop = opts.kopecksInWords ? ruCardinal(kopecks, { gender: 'feminine' }) : d.frac;
    text =
      `${ruCardinal(roubles)} ${ruPlural(roubles, 'рубль', 'рубля', 'рублей')} ` +
      `${kop} ${ruPlural(kopecks, 'копейка', 'копейки', 'копеек')}`;
  } else {
    const kop = opts.kopecksInWords ? enCardinal(kopecks) : d.frac;
    text = `${enCardinal(roubles)} ${roubles === 1n ? 'rouble' : 'roubles'} ${kop} ${kopecks === 1n ? 'kopeck' : 'kopecks'}`;
  }
  return capitalizeFirst(minus + text);
}

/** Whole part of a number in words, no currency: "сорок восемь" / "forty-eight". */
function integerInWords(d: Decimal, lang: 'ru' | 'en'): string {
  const n = BigInt(d.int); // the integer part: 48.7 is "сорок восемь"
  const minus = d.negative && n !== 0n ? (lang === 'ru' ? 'минус ' : 'minus ') : '';
  return minus + (lang === 'ru' ? ruCardinal(n) : enCardinal(n));
}

// Length of the country code by the leading digits (ITU zones): 1 and 7 are one digit; these
// two-digit codes; everything else has three.
const TWO_DIGIT_CODES = new Set(
  '20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98'.split(' '),
);

/** "+7 (916) 123-45-67" for Russian numbers; others "+<code> <area> 123-45-67" as far as digits go. */
export function formatPhone(e164: string): string {
  // E.164: no country code starts with 0, and a +7 number always has ten digits after the 7.
  const m = typeof e164 === 'string' ? /^\+(?!7(?!\d{10}$))([1-9]\d{7,14})$/.exec(e164) : null;
  if (!m) throw new FilterError(`the "phone" filter needs a phone number (e.g. +79161234567), got ${describe(e164)}`);
  const digits = m[1] ?? '';
  const ru = /^7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(digits);
  if (ru) return `+7 (${ru[1]}) ${ru[2]}-${ru[3]}-${ru[4]}`;
  const ccLength = /^[17]/.test(digits) ? 1 : TWO_DIGIT_CODES.has(digits.slice(0, 2)) ? 2 : 3;
  const cc = digits.slice(0, ccLength);
  const rest = digits.slice(ccLength);
  // The last seven digits as 123-45-67, whatever comes before them as the area code.
  const local = rest.slice(-7);
  const area = rest.slice(0, -7);
  const localShown = `${local.slice(0, -4)}-${local.slice(-4, -2)}-${local.slice(-2)}`;
  return `+${cc} ${area ? area + ' ' : ''}${localShown}`;
}

/** Turns text typed in a text field ("8 916 123-45-67") into +digits for formatPhone. */
function phoneDigits(value: unknown): string {
  if (typeof value !== 'string') throw new FilterError(`the "phone" filter needs a phone number, got ${describe(value)}`);
  const s = value.trim().replace(/[\s().-]/g, '');
  if (/^8\d{10}$/.test(s)) return `+7${s.slice(1)}`; // the Russian trunk prefix
  if (/^7\d{10}$/.test(s)) return `+${s}`;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Default display

type FieldLike = Parameters<typeof displayValue>[0];

/** A stand-in definition when there is none ($today, …): the type follows the JS type of the value. */
function guessField(value: unknown): FieldLike {
  const type = Array.isArray(value) ? 'table' : typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'text';
  return { id: '', type, label: { ru: '', en: '' } };
}

/**
 * What a tag shows with no filter: values.ts displayValue for the field's type; null for no value
 * (the caller decides whether a missing value is an error). A string that is no longer in the
 * field's canonical form (the output of an earlier filter) comes back unchanged — except that an
 * ISO date on a date field is always shown as 21.11.2026, so do not call this after `date:iso`.
 */
export function defaultDisplay(value: unknown, ctx: FilterContext): string | null {
  if (value === null || value === undefined) return null;
  const ok = ['string', 'number', 'boolean'].includes(typeof value) || Array.isArray(value);
  if (!ok) throw new FilterError(`${describe(value)} cannot be shown in a document`);
  return displayValue(ctx.field ?? guessField(value), value as FieldValue, ctx.lang);
}

// ---------------------------------------------------------------------------------------------
// The filters

interface Definition extends Omit<FilterSpec, 'apply'> {
  /** The filter decides itself what null means; otherwise null/undefined pass through as null. */
  handlesNull?: boolean;
  apply(value: unknown, arg: FilterArg, ctx: FilterContext): unknown;
}

/** The generic argument rules, shared by lint (filterProblem) and by apply. */
function argProblem(spec: Omit<FilterSpec, 'apply'>, arg: FilterArg): string | null {
  if (spec.arg === 'none' && arg !== undefined) return `the "${spec.name}" filter takes no argument`;
  // An empty argument is allowed: `{middle_name | default:""}` prints nothing for a missing value.
  if (spec.arg === 'required' && arg === undefined) return `the "${spec.name}" filter needs an argument`;
  if (arg !== undefined && spec.argValues && !spec.argValues.includes(arg)) {
    return `the "${spec.name}" filter does not know the argument ${describe(arg)} (allowed: ${spec.argValues.join(', ')})`;
  }
  return null;
}

function define(def: Definition): FilterSpec {
  const { handlesNull, apply, ...spec } = def;
  return {
    ...spec,
    apply(value, arg, ctx) {
      // Rendering enforces what lint says, so that a template that was never linted still fails clearly.
      const problem = argProblem(spec, arg) ?? spec.check?.(ctx, arg) ?? null;
      if (problem) throw new FilterError(problem);
      if (!handlesNull && (value === null || value === undefined)) return null;
      return apply(value, arg, ctx);
    },
  };
}

/** The type the filter should treat the value as: the field's, or guessed from the value. */
const typeOf = (value: unknown, ctx: FilterContext): string => ctx.field?.type ?? guessField(value).type;

/** A problem when `arg` is not an option of an enum field (a typo would otherwise never tick). */
function optionProblem(ctx: FilterContext, arg: FilterArg, filter: string): string | null {
  const options = ctx.field?.type === 'enum' ? ctx.field.options ?? [] : null;
  if (!options || arg === undefined || options.some((o) => o.value === arg)) return null;
  return `the "${filter}" filter's argument ${describe(arg)} is not an option of ${fieldName(ctx)} (options: ${options.map((o) => o.value).join(', ')})`;
}

const asText = (value: unknown, ctx: FilterContext): string => defaultDisplay(value, ctx) ?? '';

const definitions: Definition[] = [
  {
    name: 'date',
    appliesTo: ['date'],
    arg: 'optional',
    // A named style, or a pattern of dd, MM, yyyy, yy and separators: comb fields on bank forms
    // want "ddMMyyyy" (one digit a cell).
    check: (_ctx, arg) =>
      arg === undefined || ['short', 'long', 'en', 'iso'].includes(arg) || DATE_PATTERN.test(arg)
        ? null
        : `the "date" filter does not know the argument ${describe(arg)} (allowed: short, long, en, iso, or a pattern of dd, MM, yyyy, yy such as "ddMMyyyy")`,
    apply(value, arg) {
      const [y, m, d] = readIsoDate(value);
      if (arg === 'long') return formatDateLong(value as string, 'ru');
      if (arg === 'en') return formatDateLong(value as string, 'en');
      if (arg === 'iso') return value;
      const dd = String(d).padStart(2, '0');
      const mm = String(m).padStart(2, '0');
      if (arg !== undefined && arg !== 'short') return arg.replace(/yyyy|yy|dd|MM/g, (t) => (t === 'yyyy' ? y : t === 'yy' ? y.slice(-2) : t === 'dd' ? dd : mm));
      return `${dd}.${mm}.${y}`;
    },
  },
  {
    name: 'money',
    appliesTo: ['money', 'number'],
    arg: 'optional',
    argValues: ['int', 'en'],
    apply(value, arg) {
      const d = readDecimal(value, 'the "money" filter');
      if (arg === 'en') return formatDecimal(roundDecimal(d, 2), ',', '.');
      return formatDecimal(roundDecimal(d, arg === 'int' ? 0 : 2), NBSP, ',');
    },
  },
  {
    name: 'words',
    appliesTo: ['money', 'number'],
    arg: 'optional',
    argValues: ['ru', 'full', 'en'],
    apply(value, arg, ctx) {
      const d = readDecimal(value, 'the "words" filter');
      const lang = arg === 'en' ? 'en' : 'ru';
      // Money spells roubles and kopecks; a number field (term in months, …) just its whole part.
      const money = ctx.field ? ctx.field.type === 'money' : typeof value === 'string';
      if (!money) return integerInWords(d, lang);
      return amountInWords(formatDecimal(d, '', '.'), lang, { kopecksInWords: arg === 'full' });
    },
  },
  {
    // Only the digits of a value: SNILS «112-233-445 95» → «11223344595» for an 11-cell comb field.
    name: 'digits',
    appliesTo: ['any'],
    arg: 'none',
    apply: (value, _arg, ctx) => asText(value, ctx).replace(/\D+/g, ''),
  },
  {
    name: 'upper',
    appliesTo: ['any'],
    arg: 'none',
    apply: (value, _arg, ctx) => asText(value, ctx).toUpperCase(),
  },
  {
    name: 'lower',
    appliesTo: ['any'],
    arg: 'none',
    apply: (value, _arg, ctx) => asText(value, ctx).toLowerCase(),
  },
  {
    name: 'capitalize',
    appliesTo: ['any'],
    arg: 'none',
    apply: (value, _arg, ctx) => capitalizeFirst(asText(value, ctx)),
  },
  {
    name: 'phone',
    appliesTo: ['phone', 'text'],
    arg: 'none',
    apply: (value) => formatPhone(phoneDigits(value)),
  },
  {
    name: 'default',
    appliesTo: ['any'],
    arg: 'required',
    handlesNull: true,
    // A real value goes on unchanged, so that later filters and the default display still apply.
    apply: (value, arg) => (isEmpty(value) ? arg : value),
  },
  {
    name: 'tick',
    appliesTo: ['boolean', 'enum'],
    arg: 'optional',
    handlesNull: true,
    check(ctx, arg) {
      if (ctx.field?.type === 'boolean' && arg !== undefined) return `the "tick" filter takes no argument on yes/no ${fieldName(ctx)}`;
      if (ctx.field?.type === 'enum' && arg === undefined) return `the "tick" filter on ${fieldName(ctx)} needs the option value to tick for (e.g. tick:${ctx.field.options?.[0]?.value ?? 'option'})`;
      return optionProblem(ctx, arg, 'tick');
    },
    apply(value, arg) {
      if (value !== null && value !== undefined) {
        if (arg === undefined && typeof value !== 'boolean') throw new FilterError(`the "tick" filter without an argument needs yes/no, got ${describe(value)}`);
        if (arg !== undefined && typeof value !== 'string') throw new FilterError(`the "tick" filter with an argument needs an option value, got ${describe(value)}`);
      }
      return isTicked(value, arg) ? '☒' : '☐';
    },
  },
  {
    name: 'yesno',
    appliesTo: ['boolean'],
    arg: 'optional',
    argValues: ['ru', 'en'],
    apply(value, arg) {
      if (typeof value !== 'boolean') throw new FilterError(`the "yesno" filter needs yes/no, got ${describe(value)}`);
      if (arg === 'en') return value ? 'yes' : 'no';
      return value ? 'да' : 'нет';
    },
  },
  {
    name: 'label',
    appliesTo: ['enum'],
    arg: 'optional',
    argValues: ['ru', 'en'],
    apply(value, arg, ctx) {
      if (typeof value !== 'string') throw new FilterError(`the "label" filter needs an option value, got ${describe(value)}`);
      const options = ctx.field?.type === 'enum' ? ctx.field.options : undefined;
      if (!options) throw new FilterError(`the "label" filter needs a choice field (enum), and ${fieldName(ctx)} is not one`);
      const option = options.find((o) => o.value === value);
      if (!option) throw new FilterError(`${describe(value)} is not an option of ${fieldName(ctx)}`);
      return option.label[arg === 'en' ? 'en' : 'ru'];
    },
  },
  {
    name: 'is',
    appliesTo: ['enum', 'boolean'],
    arg: 'required',
    condition: true,
    handlesNull: true,
    check(ctx, arg) {
      if (ctx.field?.type === 'boolean' && arg !== 'true' && arg !== 'false') return `the "is" filter on yes/no ${fieldName(ctx)} takes true or false, not ${describe(arg)}`;
      return optionProblem(ctx, arg, 'is');
    },
    apply(value, arg, ctx) {
      if (value === null || value === undefined) return false;
      if (typeof value === 'boolean') {
        if (arg !== 'true' && arg !== 'false') throw new FilterError(`the "is" filter on a yes/no value takes true or false, not ${describe(arg)}`);
        return String(value) === arg;
      }
      if (typeof value !== 'string') throw new FilterError(`the "is" filter needs an option value or yes/no, got ${describe(value)} (${typeOf(value, ctx)})`);
      return value === arg;
    },
  },
  {
    name: 'present',
    appliesTo: ['any'],
    arg: 'none',
    condition: true,
    handlesNull: true,
    apply: (value) => !isEmpty(value),
  },
  {
    name: 'count',
    appliesTo: ['table'],
    arg: 'none',
    handlesNull: true,
    apply(value) {
      if (value === null || value === undefined) return 0; // an empty table is stored as no value
      if (!Array.isArray(value)) throw new FilterError(`the "count" filter needs a table, got ${describe(value)}`);
      return value.length;
    },
  },
  {
    name: 'number',
    appliesTo: ['number', 'money'],
    arg: 'optional',
    check: (_ctx, arg) =>
      arg === undefined || /^(?:[0-9]|1[0-9]|20)$/.test(arg) ? null : `the "number" filter takes a number of decimals from 0 to 20, not ${describe(arg)}`,
    apply(value, arg) {
      const d = readDecimal(value, 'the "number" filter');
      // Without an argument, as many decimals as the value has.
      return formatDecimal(arg === undefined ? d : roundDecimal(d, Number(arg)), NBSP, ',');
    },
  },
];

export const FILTERS: ReadonlyMap<string, FilterSpec> = new Map(definitions.map((d) => [d.name, define(d)]));

/**
 * For template lint: what is wrong with using filter `name` with `arg` on a value of `ctx.field`,
 * or null. Checks only the first filter of a chain against the field's type; later filters get
 * text or a condition, which `appliesTo` does not describe.
 */
export function filterProblem(name: string, ctx: FilterContext, arg: FilterArg): string | null {
  const spec = FILTERS.get(name);
  if (!spec) return `there is no filter "${name}" (filters: ${[...FILTERS.keys()].join(', ')})`;
  if (ctx.field && !spec.appliesTo.includes('any') && !spec.appliesTo.includes(ctx.field.type)) {
    return `the "${name}" filter applies to ${spec.appliesTo.join(', ')} fields, and ${fieldName(ctx)} is ${ctx.field.type}`;
  }
  return argProblem(spec, arg) ?? spec.check?.(ctx, arg) ?? null;
}
