// Parsing, checking and display of field values. Pure functions: a value typed by a person (or read
// from CSV/XLSX/JSON) becomes its canonical stored form, or one readable problem per thing wrong.
// Money never goes through a float: it is parsed from digit strings and kept as exact decimal text.

import { decimalFromCents, formatDecimal } from '../money.js';
import type { FieldDef, FieldValue, TableRow, Validation } from './types.js';

export type ParseResult = { ok: true; value: FieldValue } | { ok: false; problem: string };

type FieldLike = Pick<FieldDef, 'id' | 'type' | 'validation' | 'options' | 'columns' | 'label'> & {
  required?: boolean; // columns carry it; fields' own `required` is checked elsewhere (field show --missing)
};
type Parsed = { ok: true; value: FieldValue } | { ok: false; problems: string[] };
type Scalar = string | number | boolean | null;

// What each type expects, said after "… is not".
const EXPECTED: Record<string, string> = {
  text: 'text',
  number: 'a number (e.g. 12,5)',
  money: 'an amount of money (e.g. 1 500 000,00)',
  date: 'a date (e.g. 21.11.2026)',
  boolean: 'yes/no (да/нет, yes/no)',
  email: 'an email address (e.g. name@example.ru)',
  phone: 'a phone number (e.g. +7 916 123-45-67)',
  table: 'a table (a list of rows)',
};

// Characters that are invisible but break parsing: zero-width spaces and joiners, bidi marks and
// overrides, soft hyphen, BOM. Pasted amounts from web pages and PDFs often carry them.
const INVISIBLE = /[\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/gu;
// Shown escaped in problems, so that a message cannot be reordered or hidden by what it quotes.
const SHOWN_ESCAPED = /[\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2028\u2029\u2060-\u2064\u2066-\u2069\uFEFF]/gu;
// Anything longer than this is not a scalar a person typed; refusing early keeps the regexes cheap.
const MAX_SCALAR_LENGTH = 500;
// 10^18 roubles: far beyond any deal, small enough that no downstream numeric column overflows.
const MAX_MONEY_CENTS = 10n ** 20n;

const ok = (value: FieldValue): Parsed => ({ ok: true, value });
const fail = (...problems: string[]): Parsed => ({ ok: false, problems });

/** Invisible characters removed, every kind of space (no-break, narrow, thin…) made one plain space. */
function clean(s: string): string {
  return s.replace(INVISIBLE, '').replace(/\s+/gu, ' ').trim();
}

/** A value as it appears in a problem: quoted, cut short, with control and invisible characters shown. */
function describe(raw: unknown): string {
  if (typeof raw === 'string') {
    const chars = [...raw];
    const cut = chars.length > 60 ? chars.slice(0, 57).join('') + '…' : raw;
    return JSON.stringify(cut).replace(SHOWN_ESCAPED, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
  }
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? 'an invalid date' : `the date ${raw.toISOString().slice(0, 10)}`;
  if (Array.isArray(raw)) return 'a list';
  if (raw === null) return 'nothing';
  if (typeof raw === 'object') return 'an object';
  return String(raw);
}

const notA = (raw: unknown, type: string): string => `${describe(raw)} is not ${EXPECTED[type] ?? type}`;

// ---------------------------------------------------------------------------------------------
// Decimal numbers as digit strings

/**
 * Splits "1 500 000,50" / "1,500,000.50" / "1.500.000" into integer and fraction digits.
 * `loneThree` decides a single separator followed by exactly three digits ("1,500"): a thousands
 * separator for money and whole numbers, a decimal one where a fraction is likely ("7,125 %").
 */
function splitDecimal(body: string, loneThree: 'thousands' | 'decimal'): { int: string; frac: string } | null {
  if (!/^\d(?:[\d .,]*\d)?$/.test(body)) return null;
  const dots = body.split('.').length - 1;
  const commas = body.split(',').length - 1;
  let decimal: string | null = null;
  let thousands: string | null = null;
  if (dots && commas) {
    decimal = body.lastIndexOf('.') > body.lastIndexOf(',') ? '.' : ',';
    thousands = decimal === '.' ? ',' : '.';
    if ((decimal === '.' ? dots : commas) > 1) return null;
  } else if (dots || commas) {
    const sep = dots ? '.' : ',';
    const after = body.slice(body.lastIndexOf(sep) + 1);
    if (!/^\d+$/.test(after)) return null;
    // Several of them, or a lone one before exactly three digits (by policy), group thousands;
    // a lone one before 1–2 or 4+ digits is a decimal point ("1,2345" then has too many decimals).
    const grouping = (dots || commas) > 1 || (after.length === 3 && loneThree === 'thousands');
    if (grouping) thousands = sep;
    else decimal = sep;
  }
  const cut = decimal ? body.lastIndexOf(decimal) : body.length;
  const frac = decimal ? body.slice(cut + 1) : '';
  let int = body.slice(0, cut);
  if (!/^\d*$/.test(frac)) return null;
  if (!/^\d+$/.test(int)) {
    // Grouped: 1–3 digits, then groups of exactly three, all with the same separator.
    const group = thousands ? `[ ${thousands === '.' ? '\\.' : ','}]` : ' ';
    const m = new RegExp(`^\\d{1,3}(${group})\\d{3}(?:\\1\\d{3})*$`).exec(int);
    if (!m || int.startsWith('0')) return null;
    int = int.replace(/\D/g, '');
  }
  return { int: int.replace(/^0+(?=\d)/, ''), frac };
}

/** Exact kopecks from digit strings, scaled by 10^shift; null when there would be a fraction of a kopeck. */
function toCents(int: string, frac: string, negative: boolean, shift = 0): bigint | null {
  const scale = frac.length - shift;
  let units = BigInt(int + frac);
  if (scale <= 2) units *= 10n ** BigInt(2 - scale);
  else {
    const div = 10n ** BigInt(scale - 2);
    if (units % div !== 0n) return null;
    units /= div;
  }
  return negative ? -units : units;
}

function centsToString(cents: bigint): string {
  const digits = (cents < 0n ? -cents : cents).toString().padStart(3, '0');
  return `${cents < 0n ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** Kopecks of a canonical money string ("-1500.00"), or null if it is not one. */
function centsOf(value: unknown): bigint | null {
  if (typeof value === 'number') return moneyFromNumber(value).cents;
  if (typeof value !== 'string' || !/^-?\d+\.\d{2}$/.test(value)) return null;
  return BigInt(value.replace('.', ''));
}

function formatCents(cents: bigint, sep: string, decimal: string): string {
  return formatDecimal(decimalFromCents(cents), sep, decimal);
}

// ---------------------------------------------------------------------------------------------
// Money

// Currency marks stripped before or after the amount; the field's currency is a schema matter.
const CURRENCY = '(?:₽|\\$|€|руб(?:лей|ля|ль)?\\.?|р\\.?|rub|rur|usd|eur)';
const CURRENCY_BEFORE = new RegExp(`^${CURRENCY}(?=[\\s\\d+\\-−])\\s*`, 'u');
const CURRENCY_AFTER = new RegExp(`(?<=[\\d.\\s])\\s*${CURRENCY}$`, 'u');
const MULTIPLIER = /(?<=\d)\s*(млн\.?|миллион(?:а|ов)?|mln|m|millions?|тыс\.?|тысяч[аи]?|k|thousands?)$/u;

type MoneyParse = { cents: bigint; problem?: undefined } | { cents: null; problem: string };

function parseMoneyText(raw: string): MoneyParse {
  const bad: MoneyParse = { cents: null, problem: notA(raw, 'money') };
  let s = clean(raw).toLowerCase();
  if (s.length > MAX_SCALAR_LENGTH) return bad;
  let negative = false;
  const takeSign = (): void => {
    const m = /^([-−+])\s*/u.exec(s);
    if (m && !negative) {
      negative = m[1] !== '+';
      s = s.slice(m[0].length);
    }
  };
  takeSign();
  s = s.replace(CURRENCY_BEFORE, '');
  takeSign(); // "₽ -5 000" as well as "-₽5 000"
  s = s.replace(CURRENCY_AFTER, '').trim();
  let shift = 0;
  const mult = MULTIPLIER.exec(s);
  if (mult) {
    shift = /^[мm]/u.test(mult[1] ?? '') ? 6 : 3;
    s = s.slice(0, mult.index);
  }
  // With "млн"/"тыс" a lone separator is a decimal one: "1,250 млн" is 1 250 000.
  const parts = splitDecimal(s.trim(), shift ? 'decimal' : 'thousands');
  if (!parts) return bad;
  const cents = toCents(parts.int, parts.frac, negative, shift);
  if (cents === null) return { cents: null, problem: `${describe(raw)} has more than 2 decimal places (kopecks)` };
  if (cents >= MAX_MONEY_CENTS || -cents >= MAX_MONEY_CENTS) return { cents: null, problem: `${describe(raw)} is too large an amount` };
  return { cents };
}

function moneyFromNumber(n: number): MoneyParse {
  if (!Number.isFinite(n)) return { cents: null, problem: notA(n, 'money') };
  // Beyond 2^53 the number itself is no longer exact; the caller must send text.
  if (Math.abs(n) > Number.MAX_SAFE_INTEGER) return { cents: null, problem: `${n} is too large to be exact as a number; give the amount as text` };
  // String() gives the shortest form that reads back as the same double, i.e. what was written in JSON.
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(n));
  const cents = m ? toCents(m[2] ?? '0', m[3] ?? '', m[1] === '-') : null;
  if (cents === null) return { cents: null, problem: `${n} has more than 2 decimal places (kopecks)` };
  return { cents };
}

export function parseMoney(raw: string): string | null {
  if (typeof raw !== 'string') return null;
  const r = parseMoneyText(raw);
  return r.cents === null ? null : centsToString(r.cents);
}

// ---------------------------------------------------------------------------------------------
// Numbers

function parseNumberText(raw: string, integerOnly: boolean): number | string {
  const s = clean(raw);
  if (s.length > MAX_SCALAR_LENGTH) return notA(raw, 'number');
  const negative = /^[-−]/u.test(s);
  // A sign in front and a percent sign behind ("12,5 %") are allowed around the digits.
  const parts = splitDecimal(s.replace(/^[-−+]\s*/u, '').replace(/\s*%$/, ''), integerOnly ? 'thousands' : 'decimal');
  if (!parts) return notA(raw, 'number');
  const n = Number(`${negative ? '-' : ''}${parts.int}.${parts.frac || '0'}`);
  if (Math.abs(n) > Number.MAX_SAFE_INTEGER) return `${describe(raw)} is too large a number`;
  return n === 0 ? 0 : n; // no -0
}

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS = new Map<string, number>();
[
  'января февраля марта апреля мая июня июля августа сентября октября ноября декабря',
  'january february march april may june july august september october november december',
  'jan feb mar apr may jun jul aug sep oct nov dec',
].forEach((list) => list.split(' ').forEach((name, i) => MONTHS.set(name, i + 1)));

function isoDate(y: number, m: number, d: number): string | null {
  if (y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1) return null;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (d > (days[m - 1] ?? 0)) return null;
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

function fullYear(y: string): number {
  if (y.length !== 2) return Number(y);
  const yy = Number(y);
  const pivot = (new Date().getUTCFullYear() % 100) + 10; // "26" is this century, "79" the last
  return yy <= pivot ? 2000 + yy : 1900 + yy;
}

/** Which form a date string has: its ISO date, 'unreal' for 31.02.2026, null for not a date at all. */
function readDate(raw: string): string | 'unreal' | null {
  // «21» ноября 2026 г. — the quoted day of Russian contracts.
  const s = clean(raw).toLowerCase().replace(/[«»"“”]/g, '');
  if (s.length > 100) return null;
  let y: number, m: number, d: number;
  let g: RegExpExecArray | null;
  const year = '(?: ?г\\.?| года)?';
  if ((g = /^(\d{4})[-./](\d{1,2})[-./](\d{1,2})(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?$/.exec(s))) {
    [y, m, d] = [Number(g[1]), Number(g[2]), Number(g[3])];
  } else if ((g = new RegExp(`^(\\d{1,2})[./-](\\d{1,2})[./-](\\d{4}|\\d{2})${year}(?: \\d{1,2}:\\d{2}(?::\\d{2})?)?$`).exec(s))) {
    [d, m, y] = [Number(g[1]), Number(g[2]), fullYear(g[3] ?? '')];
  } else if ((g = new RegExp(`^(\\d{1,2}) (\\p{L}+)\\.?,? (\\d{4})${year}$`, 'u').exec(s))) {
    const month = MONTHS.get(g[2] ?? '');
    if (!month) return null;
    [d, m, y] = [Number(g[1]), month, Number(g[3])];
  } else if ((g = /^(\p{L}+)\.? (\d{1,2}),? (\d{4})$/u.exec(s))) {
    const month = MONTHS.get(g[1] ?? '');
    if (!month) return null;
    [d, m, y] = [Number(g[2]), month, Number(g[3])];
  } else return null;
  return isoDate(y, m, d) ?? 'unreal';
}

export function parseDate(raw: string): string | null {
  if (typeof raw !== 'string') return null;
  const r = readDate(raw);
  return r === 'unreal' ? null : r;
}

function parseDateValue(raw: unknown): string | { problem: string } {
  if (raw instanceof Date) {
    // exceljs gives dates as UTC midnights, so the UTC parts are the calendar date of the cell.
    const iso = Number.isNaN(raw.getTime()) ? null : isoDate(raw.getUTCFullYear(), raw.getUTCMonth() + 1, raw.getUTCDate());
    return iso ?? { problem: notA(raw, 'date') };
  }
  if (typeof raw !== 'string') return { problem: notA(raw, 'date') };
  const r = readDate(raw);
  if (r === 'unreal') return { problem: `${describe(raw)} is not a real date` };
  return r ?? { problem: notA(raw, 'date') };
}

const showDate = (iso: string): string => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  return m ? `${m[3]}.${m[2]}.${m[1]}` : iso;
};

// ---------------------------------------------------------------------------------------------
// Booleans, enums, emails, phones

// "х" is the Cyrillic letter, typed for a tick on a Russian keyboard; ИСТИНА/ЛОЖЬ come from Russian Excel.
const TRUE_WORDS = new Set(['да', 'д', 'yes', 'y', 'true', '1', '+', 'x', 'х', '✓', '✔', '☒', '☑', 'истина']);
const FALSE_WORDS = new Set(['нет', 'н', 'no', 'n', 'false', '0', '-', '−', '–', '☐', 'ложь']);

export function parseBoolean(raw: string): boolean | null {
  if (typeof raw !== 'string') return null;
  const s = clean(raw).toLowerCase();
  return TRUE_WORDS.has(s) ? true : FALSE_WORDS.has(s) ? false : null;
}

const enumKey = (s: string): string => clean(s).toLowerCase().replace(/ё/g, 'е');

function parseEnum(field: FieldLike, raw: string): Parsed {
  const options = field.options ?? [];
  const key = enumKey(raw);
  const found =
    options.find((o) => enumKey(o.value) === key) ??
    options.find((o) => enumKey(o.label.ru) === key || enumKey(o.label.en) === key);
  if (found) return ok(found.value);
  const list = options.map((o) => `${o.value} (${o.label.ru})`).join(', ');
  return fail(`${describe(raw)} is not one of: ${list || '(the field has no options)'}`);
}

function parseEmail(raw: string): string | null {
  const s = clean(raw).toLowerCase();
  if (s.length > 254) return null;
  const at = s.lastIndexOf('@');
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  if (at < 1 || !/^[^\s@"<>(),;:\\]+$/.test(local) || /^\.|\.\.|\.$/.test(local)) return null;
  // Letters of any script: кириллические домены (.рф) are real addresses.
  if (!/^(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59})$/u.test(domain)) return null;
  return s;
}

function parsePhone(raw: string): string | null {
  const s = clean(raw);
  if (s.length > 40 || !/^\+?[\d ().-]+$/.test(s)) return null;
  let plus = s.startsWith('+');
  let d = s.replace(/\D/g, '');
  if (!plus && d.startsWith('00')) [plus, d] = [true, d.slice(2)]; // 00 49 … is +49 …
  if (plus) {
    if (d.startsWith('7')) return d.length === 11 ? `+${d}` : null;
    return d.length >= 8 && d.length <= 15 && !d.startsWith('0') ? `+${d}` : null;
  }
  if (d.length === 11 && (d.startsWith('8') || d.startsWith('7'))) return `+7${d.slice(1)}`;
  // Ten digits without a prefix: a Russian number (mobile 9xx, landline 3xx/4xx/8xx codes).
  if (d.length === 10 && /^[3489]/.test(d)) return `+7${d}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Tables

function parseTable(field: FieldLike, raw: unknown): Parsed {
  let data = raw;
  if (typeof raw === 'string') {
    try {
      data = JSON.parse(raw);
    } catch {
      return fail(`${describe(raw)} is not a table (a JSON list of rows)`);
    }
  }
  if (data === null) return ok(null);
  if (!Array.isArray(data)) return fail(notA(raw, 'table'));
  const columns = new Map((field.columns ?? []).map((c) => [c.id, c]));
  const rows: TableRow[] = [];
  const problems: string[] = [];
  data.forEach((item: unknown, i) => {
    const at = `row ${i + 1}`;
    if (item === null || typeof item !== 'object' || Array.isArray(item) || item instanceof Date) {
      problems.push(`${at}: ${describe(item)} is not a row of named cells`);
      return;
    }
    const row: TableRow = {};
    const failed = new Set<string>(); // keys already reported, so "required" is not said twice
    for (const [key, cell] of Object.entries(item)) {
      const column = columns.get(key);
      const r = !column
        ? fail(`unknown column ${describe(key)} (columns: ${[...columns.keys()].join(', ')})`)
        : (column.type as string) === 'table' // the type forbids it, a hand-edited definition may not
          ? fail('a table cannot hold a table')
          : parseInternal(column, cell);
      if (!r.ok) {
        problems.push(...r.problems.map((p) => (column ? `${at}, column "${key}": ${p}` : `${at}: ${p}`)));
        failed.add(key);
      } else if (r.value !== null) row[key] = r.value as Scalar;
    }
    // A row with nothing in it is a blank line of a form or a sheet, not an incomplete row.
    if (Object.keys(row).length === 0 && failed.size === 0) return;
    for (const column of columns.values()) {
      if (column.required && row[column.id] === undefined && !failed.has(column.id)) {
        problems.push(`${at}: column "${column.id}" (${column.label.en}) is required`);
      }
    }
    rows.push(row);
  });
  const maxRows = field.validation?.maxRows;
  if (maxRows !== undefined && rows.length > maxRows) problems.push(`${rows.length} rows are more than the maximum of ${maxRows}`);
  if (problems.length) return fail(...problems);
  return ok(rows.length ? rows : null); // an empty table is a cleared value
}

// ---------------------------------------------------------------------------------------------
// Validation of canonical values

const patternCache = new Map<string, RegExp | null>();
function compiled(pattern: string): RegExp | null {
  if (!patternCache.has(pattern)) {
    let re: RegExp | null = null;
    try {
      re = new RegExp(`^(?:${pattern})$`, 'u');
    } catch {
      re = null; // a schema bug; reported as a problem rather than a crash in the middle of an import
    }
    patternCache.set(pattern, re);
  }
  return patternCache.get(pattern) ?? null;
}

function boundDate(b: unknown): string | null {
  if (b instanceof Date) return Number.isNaN(b.getTime()) ? null : b.toISOString().slice(0, 10);
  return typeof b === 'string' ? parseDate(b) : null;
}

function boundMoney(b: unknown): bigint | null {
  if (typeof b === 'number') return moneyFromNumber(b).cents;
  return typeof b === 'string' ? parseMoneyText(b).cents : null;
}

const showNumber = (n: number, decimal = ','): string => String(n).replace('.', decimal);

function validate(type: string, v: Validation | undefined, value: FieldValue): string[] {
  if (!v || value === null) return [];
  const problems: string[] = [];
  const range = (shown: string, below: boolean, above: boolean, min: string, max: string): void => {
    if (below) problems.push(`${shown} is below the minimum ${min}`);
    if (above) problems.push(`${shown} is above the maximum ${max}`);
  };
  if (typeof value === 'string' && (type === 'text' || type === 'email' || type === 'phone')) {
    if (v.pattern !== undefined) {
      const re = compiled(v.pattern);
      if (!re) problems.push(`cannot be checked: the schema's pattern ${v.pattern} is not a valid regular expression`);
      else if (!re.test(value)) problems.push(`${describe(value)} does not have the expected form (${v.pattern})`);
    }
    const length = [...value].length;
    if (v.minLength !== undefined && length < v.minLength) problems.push(`${describe(value)} is too short: ${length} characters, at least ${v.minLength}`);
    if (v.maxLength !== undefined && length > v.maxLength) problems.push(`${describe(value)} is too long: ${length} characters, at most ${v.maxLength}`);
  } else if (type === 'number' && typeof value === 'number') {
    if (v.integer && !Number.isInteger(value)) problems.push(`${showNumber(value)} is not a whole number`);
    const min = v.min === undefined ? NaN : Number(v.min);
    const max = v.max === undefined ? NaN : Number(v.max);
    range(showNumber(value), value < min, value > max, showNumber(min), showNumber(max));
  } else if (type === 'money') {
    const cents = centsOf(value);
    const min = boundMoney(v.min);
    const max = boundMoney(v.max);
    const show = (c: bigint | null): string => (c === null ? '' : formatCents(c, ' ', ','));
    if (cents !== null) range(show(cents), min !== null && cents < min, max !== null && cents > max, show(min), show(max));
  } else if (type === 'date' && typeof value === 'string') {
    const min = boundDate(v.min);
    const max = boundDate(v.max);
    if (min && value < min) problems.push(`${showDate(value)} is before the earliest allowed date ${showDate(min)}`);
    if (max && value > max) problems.push(`${showDate(value)} is after the latest allowed date ${showDate(max)}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Parsing by type

function parseScalar(field: FieldLike, raw: unknown): Parsed {
  const type = field.type;
  if (Array.isArray(raw) || (typeof raw === 'object' && raw !== null && !(raw instanceof Date))) return fail(notA(raw, type));
  if (type === 'date') {
    const r = parseDateValue(raw);
    return typeof r === 'string' ? ok(r) : fail(r.problem);
  }
  if (raw instanceof Date) return fail(notA(raw, type));
  if (type === 'boolean') {
    if (typeof raw === 'boolean') return ok(raw);
    if (raw === 1 || raw === 0) return ok(raw === 1);
    const b = typeof raw === 'string' ? parseBoolean(raw) : null;
    return b === null ? fail(notA(raw, type)) : ok(b);
  }
  if (type === 'money') {
    const r = typeof raw === 'number' ? moneyFromNumber(raw) : typeof raw === 'string' ? parseMoneyText(raw) : null;
    if (!r) return fail(notA(raw, type));
    return r.cents === null ? fail(r.problem) : ok(centsToString(r.cents));
  }
  if (type === 'number') {
    if (typeof raw === 'number') return Number.isFinite(raw) ? ok(raw === 0 ? 0 : raw) : fail(notA(raw, type));
    if (typeof raw !== 'string') return fail(notA(raw, type));
    const n = parseNumberText(raw, field.validation?.integer === true);
    return typeof n === 'number' ? ok(n) : fail(n);
  }
  // The rest are text-like. A number read from a spreadsheet cell (a passport number, a phone) is its text.
  if (typeof raw === 'number' && !Number.isFinite(raw)) return fail(notA(raw, type));
  if (typeof raw !== 'string' && typeof raw !== 'number') return fail(notA(raw, type));
  const s = String(raw);
  if (type === 'enum') return parseEnum(field, s);
  if (type === 'email') {
    const e = parseEmail(s);
    return e ? ok(e) : fail(notA(raw, type));
  }
  if (type === 'phone') {
    const p = parsePhone(s);
    return p ? ok(p) : fail(notA(raw, type));
  }
  return ok(s.trim());
}

function parseInternal(field: FieldLike, raw: unknown): Parsed {
  if (raw === undefined || raw === null) return ok(null);
  if (typeof raw === 'string' && clean(raw) === '') return ok(null);
  if (field.type === 'table') return parseTable(field, raw);
  const r = parseScalar(field, raw);
  if (!r.ok) return r;
  const problems = validate(field.type, field.validation, r.value);
  return problems.length ? fail(...problems) : r;
}

export function parseFieldValue(field: FieldLike, raw: unknown): ParseResult {
  const r = parseInternal(field, raw);
  if (r.ok) return r;
  // A table can have many problems; say the first few, and how many more there are.
  const shown = r.problems.slice(0, 10);
  if (r.problems.length > shown.length) shown.push(`and ${r.problems.length - shown.length} more problems`);
  return { ok: false, problem: shown.join('; ') };
}

export function checkStoredValue(field: FieldLike, value: FieldValue): string[] {
  const r = parseInternal(field, value);
  return r.ok ? [] : r.problems;
}

// ---------------------------------------------------------------------------------------------
// Display

function rowCount(n: number, lang: 'ru' | 'en'): string {
  if (lang === 'en') return `${n} ${n === 1 ? 'row' : 'rows'}`;
  const [d10, d100] = [n % 10, n % 100];
  const word = d10 === 1 && d100 !== 11 ? 'строка' : d10 >= 2 && d10 <= 4 && (d100 < 12 || d100 > 14) ? 'строки' : 'строк';
  return `${n} ${word}`;
}

export function displayValue(field: FieldLike, value: FieldValue, lang: 'ru' | 'en' = 'ru'): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return rowCount(value.length, lang);
  switch (field.type) {
    case 'money': {
      const cents = centsOf(value);
      if (cents === null) return String(value);
      return lang === 'ru' ? formatCents(cents, '\u00A0', ',') : formatCents(cents, ',', '.');
    }
    case 'number':
      return typeof value === 'number' ? showNumber(value, lang === 'ru' ? ',' : '.') : String(value);
    case 'date':
      return typeof value === 'string' ? showDate(value) : String(value);
    case 'boolean':
      if (typeof value !== 'boolean') return String(value);
      return lang === 'ru' ? (value ? 'да' : 'нет') : value ? 'yes' : 'no';
    case 'enum': {
      const option = field.options?.find((o) => o.value === value);
      return option ? option.label[lang] : String(value);
    }
    case 'phone': {
      const m = typeof value === 'string' ? /^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(value) : null;
      return m ? `+7 ${m[1]} ${m[2]}-${m[3]}-${m[4]}` : String(value);
    }
    default:
      return String(value);
  }
}
