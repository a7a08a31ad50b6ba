import { describe, expect, it } from 'vitest';
import type { ColumnDef, FieldDef, FieldType } from '../../src/schemas/types.js';
import {
  checkStoredValue,
  displayValue,
  parseBoolean,
  parseDate,
  parseFieldValue,
  parseMoney,
  type ParseResult,
} from '../../src/schemas/values.js';

type Field = Pick<FieldDef, 'id' | 'type' | 'validation' | 'options' | 'columns' | 'label'>;

function field(type: FieldType, extra: Partial<Field> = {}): Field {
  return { id: 'some_field', type, label: { ru: 'Поле', en: 'Field' }, ...extra };
}

/** The value of a successful parse; fails the test with the problem otherwise. */
function value(f: Field, raw: unknown): unknown {
  const r = parseFieldValue(f, raw);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(raw)} to parse, got: ${r.problem}`);
  return r.value;
}

/** The problem of a failed parse; fails the test if it parsed. */
function problem(f: Field, raw: unknown): string {
  const r: ParseResult = parseFieldValue(f, raw);
  if (r.ok) throw new Error(`expected a problem for ${String(raw)}, got ${JSON.stringify(r.value)}`);
  expect(r.problem).not.toContain('some_field'); // the caller prefixes the field id
  return r.problem;
}

const NBSP = '\u00A0';
const money = field('money');
const marital = field('enum', {
  options: [
    { value: 'single', label: { ru: 'Холост / не замужем', en: 'Single' } },
    { value: 'married', label: { ru: 'Женат / замужем', en: 'Married' } },
    { value: 'divorced', label: { ru: 'Разведён / разведена', en: 'Divorced' } },
  ],
});
const columns: ColumnDef[] = [
  { id: 'employer', type: 'text', label: { ru: 'Работодатель', en: 'Employer' }, required: true },
  { id: 'from', type: 'date', label: { ru: 'С', en: 'From' } },
  { id: 'salary', type: 'money', label: { ru: 'Доход', en: 'Income' }, validation: { min: 0 } },
  { id: 'current', type: 'boolean', label: { ru: 'Текущее', en: 'Current' } },
];
const employment = field('table', { columns, validation: { maxRows: 3 } });

describe('cleared values', () => {
  const types: FieldType[] = ['text', 'number', 'money', 'date', 'boolean', 'enum', 'table', 'email', 'phone'];
  it.each(types)('%s: empty string, whitespace, null and undefined clear the value', (type) => {
    const f = type === 'enum' ? marital : type === 'table' ? employment : field(type);
    for (const raw of ['', '   ', `\t${NBSP}\n`, '\u200B', null, undefined]) {
      expect(parseFieldValue(f, raw)).toEqual({ ok: true, value: null });
    }
  });
});

describe('parseMoney', () => {
  it.each([
    ['1 500 000,00', '1500000.00'],
    ['1 500 000', '1500000.00'],
    [`1${NBSP}500${NBSP}000`, '1500000.00'],
    ['1\u202F500\u202F000,00', '1500000.00'],
    ['1\u2009500\u2009000', '1500000.00'],
    ['1500000', '1500000.00'],
    ['1 500 000,5', '1500000.50'],
    ['1,500,000.00', '1500000.00'],
    ['1.500.000,00', '1500000.00'],
    ['1.500.000', '1500000.00'],
    ['1,500,000', '1500000.00'],
    ['1500000.75', '1500000.75'],
    ['1500000,7', '1500000.70'],
    ['1,500', '1500.00'],
    ['1.500', '1500.00'],
    ['1,5', '1.50'],
    ['1.05', '1.05'],
    ['0,99', '0.99'],
    ['007', '7.00'],
    ['0', '0.00'],
    ['-0', '0.00'],
    ['₽1,500,000', '1500000.00'],
    ['₽ 1 500 000', '1500000.00'],
    ['1 500 000 руб.', '1500000.00'],
    ['1 500 000 руб', '1500000.00'],
    ['1 500 000 рублей', '1500000.00'],
    ['1 500 000 р.', '1500000.00'],
    ['1 500 000 р', '1500000.00'],
    ['1500000р.', '1500000.00'],
    ['1 500 000 ₽', '1500000.00'],
    ['1 500 000₽', '1500000.00'],
    ['RUB 1500000', '1500000.00'],
    ['1500000 RUB', '1500000.00'],
    ['1500000 rur', '1500000.00'],
    ['USD 2,000', '2000.00'],
    ['$2,000.50', '2000.50'],
    ['2 000 $', '2000.00'],
    ['€ 1.234,56', '1234.56'],
    ['1 234,56 EUR', '1234.56'],
    ['-5 000,00', '-5000.00'],
    ['−5 000,00', '-5000.00'],
    ['- 5 000', '-5000.00'],
    ['+5 000', '5000.00'],
    ['-5 000 руб.', '-5000.00'],
    ['-₽5,000', '-5000.00'],
    ['₽-5,000', '-5000.00'],
    ['1,5 млн', '1500000.00'],
    ['1.5 млн', '1500000.00'],
    ['1,5 mln', '1500000.00'],
    ['1.5 million', '1500000.00'],
    ['2 millions', '2000000.00'],
    ['1,25 млн руб.', '1250000.00'],
    ['1,250 млн', '1250000.00'],
    ['3 млн ₽', '3000000.00'],
    ['200 тыс.', '200000.00'],
    ['200 тыс', '200000.00'],
    ['200 тыс. руб.', '200000.00'],
    ['200k', '200000.00'],
    ['200 K', '200000.00'],
    ['1,5k', '1500.00'],
    ['200 thousand', '200000.00'],
    ['12,345 тыс.', '12345.00'],
    ['  1 500 000,00  ', '1500000.00'],
  ])('%j → %s', (raw, expected) => {
    expect(parseMoney(raw)).toBe(expected);
  });

  it.each([
    '',
    '   ',
    'abc',
    'руб.',
    '1e9',
    '1E+09',
    'NaN',
    'Infinity',
    '-Infinity',
    '0x10',
    '1 50 000', // a grouping no one writes: a typo, not an amount
    '15 00 000',
    '1,500.000,00',
    '1.500,000.00',
    '1,5,0',
    '1500.',
    '.5',
    ',50',
    '1 500,00 000',
    '--5',
    '5-',
    '(5 000)',
    '1 500 000 руб. 00 коп.',
    '1.2345',
    '1,999 млн 1',
    'один миллион',
    'млн',
    '12 34',
    '0,125', // "0" cannot start a thousands group, and a kopeck has no third decimal
  ])('%j is not money', (raw) => {
    expect(parseMoney(raw)).toBeNull();
  });

  it('keeps amounts up to and beyond 10^15 exact', () => {
    expect(parseMoney('1 000 000 000 000 000,00')).toBe('1000000000000000.00');
    expect(parseMoney('999 999 999 999 999,99')).toBe('999999999999999.99');
    expect(parseMoney('9007199254740993,01')).toBe('9007199254740993.01'); // 2^53 + 1: a float would lose it
    expect(parseMoney('123456789012345678,91')).toBe('123456789012345678.91');
    expect(parseMoney('0,01 млн')).toBe('10000.00');
    expect(parseMoney('1,23456 млн')).toBe('1234560.00');
  });

  it('strips zero-width and bidi characters pasted with an amount', () => {
    expect(parseMoney('\u200F1 500 000,00\u200E')).toBe('1500000.00');
    expect(parseMoney('\u202B1 500 000 ₽\u202C')).toBe('1500000.00');
    expect(parseMoney('1\u200B500\u200B000')).toBe('1500000.00');
    expect(parseMoney('\uFEFF1500000')).toBe('1500000.00');
    expect(parseMoney('1\u00AD500')).toBe('1500.00');
  });

  it('refuses non-strings without throwing', () => {
    expect(parseMoney(1500 as unknown as string)).toBeNull();
    expect(parseMoney(null as unknown as string)).toBeNull();
  });
});

describe('money fields', () => {
  it('accepts JSON numbers without going through a float format', () => {
    expect(value(money, 1500000)).toBe('1500000.00');
    expect(value(money, 1500000.5)).toBe('1500000.50');
    expect(value(money, 0.1)).toBe('0.10');
    expect(value(money, -25.75)).toBe('-25.75');
    expect(value(money, -0)).toBe('0.00');
    expect(value(money, 1e15)).toBe('1000000000000000.00');
  });

  it('refuses numbers that are not exact or not finite', () => {
    expect(problem(money, 0.1 + 0.2)).toBe('0.30000000000000004 has more than 2 decimal places (kopecks)');
    expect(problem(money, 1.005)).toContain('more than 2 decimal places');
    expect(problem(money, 2 ** 60)).toContain('too large to be exact');
    expect(problem(money, NaN)).toBe('NaN is not an amount of money (e.g. 1 500 000,00)');
    expect(problem(money, Infinity)).toContain('is not an amount of money');
    expect(problem(money, 1e-7)).toContain('more than 2 decimal places');
  });

  it('says what is wrong with text', () => {
    expect(problem(money, 'abc')).toBe('"abc" is not an amount of money (e.g. 1 500 000,00)');
    expect(problem(money, '1,2345')).toBe('"1,2345" has more than 2 decimal places (kopecks)');
    expect(value(money, '1,2345 тыс.')).toBe('1234.50');
    expect(problem(money, '1,234567 тыс.')).toContain('more than 2 decimal places');
    expect(problem(money, '9'.repeat(30))).toContain('too large an amount');
  });

  it('compares min and max exactly, as decimals', () => {
    const bounded = field('money', { validation: { min: 100000, max: 1000000 } });
    expect(value(bounded, '100 000')).toBe('100000.00');
    expect(value(bounded, '1 000 000,00')).toBe('1000000.00');
    expect(problem(bounded, '2 000 000')).toBe('2 000 000,00 is above the maximum 1 000 000,00');
    expect(problem(bounded, '1 000 000,01')).toBe('1 000 000,01 is above the maximum 1 000 000,00');
    expect(problem(bounded, '99 999,99')).toBe('99 999,99 is below the minimum 100 000,00');
    expect(problem(bounded, '-5')).toContain('below the minimum');
    const huge = field('money', { validation: { max: '999999999999999.99' } });
    expect(value(huge, '999 999 999 999 999,99')).toBe('999999999999999.99');
    expect(problem(huge, '1 000 000 000 000 000')).toContain('above the maximum 999 999 999 999 999,99');
    expect(value(field('money', { validation: { min: 0 } }), '0')).toBe('0.00');
  });
});

describe('number fields', () => {
  const num = field('number');
  const whole = field('number', { validation: { integer: true, min: 3, max: 420 } });

  it('parses typed numbers with a decimal comma or point and spaces between thousands', () => {
    expect(value(num, '60')).toBe(60);
    expect(value(num, '12,5')).toBe(12.5);
    expect(value(num, '12.5')).toBe(12.5);
    expect(value(num, '1 000')).toBe(1000);
    expect(value(num, `1${NBSP}000,25`)).toBe(1000.25);
    expect(value(num, '-5')).toBe(-5);
    expect(value(num, '−2,5')).toBe(-2.5);
    expect(value(num, '12,5 %')).toBe(12.5);
    expect(value(num, '0,125')).toBe(0.125);
    expect(value(num, '-0')).toBe(0);
    expect(Object.is(value(num, '-0'), -0)).toBe(false);
    expect(value(num, '1,000,000')).toBe(1000000);
    expect(value(num, '1 234,5')).toBe(1234.5);
  });

  it('reads a lone separator before three digits as decimal, unless only whole numbers are allowed', () => {
    expect(value(num, '7,125')).toBe(7.125);
    expect(value(field('number', { validation: { integer: true } }), '1,000')).toBe(1000);
  });

  it('accepts JSON numbers', () => {
    expect(value(num, 60)).toBe(60);
    expect(value(num, 2.5)).toBe(2.5);
    expect(value(num, -0)).toBe(0);
  });

  it('refuses what is not a number', () => {
    for (const raw of ['abc', '1e9', 'NaN', 'Infinity', '12,5,6.7', '12..5', '0x1F', '1/2', '5 лет', '١٢']) {
      expect(problem(num, raw)).toMatch(/is not a number \(e\.g\. 12,5\)$/);
    }
    expect(problem(num, NaN)).toBe('NaN is not a number (e.g. 12,5)');
    expect(problem(num, Infinity)).toContain('is not a number');
    expect(problem(num, true)).toBe('true is not a number (e.g. 12,5)');
    expect(problem(num, '9'.repeat(40))).toContain('too large');
  });

  it('enforces integer, min and max', () => {
    expect(value(whole, '60')).toBe(60);
    expect(problem(whole, '12,5')).toBe('12,5 is not a whole number');
    expect(problem(whole, 12.5)).toBe('12,5 is not a whole number');
    expect(problem(whole, '500')).toBe('500 is above the maximum 420');
    expect(problem(whole, 2)).toBe('2 is below the minimum 3');
  });
});

describe('parseDate', () => {
  it.each([
    ['21.11.2026', '2026-11-21'],
    ['1.2.2026', '2026-02-01'],
    ['01.02.2026', '2026-02-01'],
    ['21.11.26', '2026-11-21'],
    ['21/11/2026', '2026-11-21'],
    ['21-11-2026', '2026-11-21'],
    ['2026-11-21', '2026-11-21'],
    ['2026-1-5', '2026-01-05'],
    ['2026/11/21', '2026-11-21'],
    ['2026-11-21T10:00:00Z', '2026-11-21'],
    ['2026-11-21T23:30:00.123+03:00', '2026-11-21'],
    ['2026-11-21 10:00', '2026-11-21'],
    ['21.11.2026 0:00', '2026-11-21'],
    ['21.11.2026 г.', '2026-11-21'],
    ['21.11.2026г', '2026-11-21'],
    ['21 ноября 2026', '2026-11-21'],
    ['21 ноября 2026 г.', '2026-11-21'],
    ['21 Ноября 2026 года', '2026-11-21'],
    ['«21» ноября 2026 г.', '2026-11-21'],
    ['1 января 2000', '2000-01-01'],
    ['8 марта 2026', '2026-03-08'],
    ['21 November 2026', '2026-11-21'],
    ['21 Nov 2026', '2026-11-21'],
    ['November 21, 2026', '2026-11-21'],
    ['29.02.2024', '2024-02-29'],
    ['29.02.2000', '2000-02-29'],
    [`  21.11.2026${NBSP}`, '2026-11-21'],
    ['\u200F21.11.2026', '2026-11-21'],
  ])('%j → %s', (raw, expected) => {
    expect(parseDate(raw)).toBe(expected);
  });

  it.each([
    '31.02.2026',
    '29.02.2026',
    '29.02.1900',
    '32.01.2026',
    '00.01.2026',
    '01.13.2026',
    '01.00.2026',
    '2026-02-30',
    '21.11.202',
    '21.11',
    '21 ноябрь-2026',
    '21 брюмера 2026',
    'tomorrow',
    '2026',
    '21112026',
    '01.01.0999',
    'NaN',
    '',
  ])('%j is not a date', (raw) => {
    expect(parseDate(raw)).toBeNull();
  });

  it('puts two-digit years within ten years ahead in this century, the rest in the last', () => {
    const yy = new Date().getUTCFullYear() % 100;
    const two = (n: number): string => String(n).padStart(2, '0');
    expect(parseDate(`01.01.${two(yy)}`)).toBe(`20${two(yy)}-01-01`);
    expect(parseDate(`01.01.${two(yy + 10)}`)).toBe(`20${two(yy + 10)}-01-01`);
    if (yy + 11 <= 99) expect(parseDate(`01.01.${two(yy + 11)}`)).toBe(`19${two(yy + 11)}-01-01`);
    expect(parseDate('20.06.79')).toBe('1979-06-20');
    expect(parseDate('01.01.00')).toBe('2000-01-01');
  });
});

describe('date fields', () => {
  const date = field('date');
  const birth = field('date', { validation: { min: '1935-01-01', max: '2010-12-31' } });

  it('takes the UTC calendar date of a JS Date (exceljs cells)', () => {
    expect(value(date, new Date(Date.UTC(2026, 10, 21)))).toBe('2026-11-21');
    expect(value(date, new Date('2026-11-21T23:59:59Z'))).toBe('2026-11-21');
    expect(problem(date, new Date('nonsense'))).toBe('an invalid date is not a date (e.g. 21.11.2026)');
  });

  it('tells a date that does not exist from text that is no date', () => {
    expect(problem(date, '31.02.2026')).toBe('"31.02.2026" is not a real date');
    expect(problem(date, '31 февраля 2026')).toBe('"31 февраля 2026" is not a real date');
    expect(problem(date, 'вчера')).toBe('"вчера" is not a date (e.g. 21.11.2026)');
    expect(problem(date, 20261121)).toBe('20261121 is not a date (e.g. 21.11.2026)');
    expect(problem(date, true)).toContain('is not a date');
  });

  it('compares min and max as ISO dates', () => {
    expect(value(birth, '01.01.1935')).toBe('1935-01-01');
    expect(value(birth, '31.12.2010')).toBe('2010-12-31');
    expect(problem(birth, '31.12.1934')).toBe('31.12.1934 is before the earliest allowed date 01.01.1935');
    expect(problem(birth, '2011-01-01')).toBe('01.01.2011 is after the latest allowed date 31.12.2010');
  });
});

describe('booleans', () => {
  it.each(['да', 'Да', 'ДА', 'д', 'yes', 'YES', 'y', 'true', 'True', '1', '+', 'x', 'X', 'х', '✓', '✔', '☒', '☑', 'ИСТИНА', ' да '])(
    '%j is true',
    (raw) => {
      expect(parseBoolean(raw)).toBe(true);
      expect(value(field('boolean'), raw)).toBe(true);
    },
  );

  it.each(['нет', 'НЕТ', 'н', 'no', 'No', 'n', 'false', 'FALSE', '0', '-', '☐', 'ЛОЖЬ'])('%j is false', (raw) => {
    expect(parseBoolean(raw)).toBe(false);
    expect(value(field('boolean'), raw)).toBe(false);
  });

  it('accepts JSON booleans and the numbers 1 and 0', () => {
    const b = field('boolean');
    expect(value(b, true)).toBe(true);
    expect(value(b, false)).toBe(false);
    expect(value(b, 1)).toBe(true);
    expect(value(b, 0)).toBe(false);
  });

  it('refuses anything else', () => {
    const b = field('boolean');
    expect(problem(b, 'да-нет')).toBe('"да-нет" is not yes/no (да/нет, yes/no)');
    expect(problem(b, 'maybe')).toContain('is not yes/no');
    expect(problem(b, 2)).toBe('2 is not yes/no (да/нет, yes/no)');
    expect(problem(b, 'yes no')).toContain('is not yes/no');
    expect(parseBoolean('')).toBeNull();
    expect(parseBoolean('2')).toBeNull();
  });
});

describe('enums', () => {
  it('matches the value, or the ru or en label, ignoring case, spaces and ё/е', () => {
    expect(value(marital, 'single')).toBe('single');
    expect(value(marital, ' MARRIED ')).toBe('married');
    expect(value(marital, 'Married')).toBe('married');
    expect(value(marital, 'женат / замужем')).toBe('married');
    expect(value(marital, 'ХОЛОСТ / НЕ ЗАМУЖЕМ')).toBe('single');
    expect(value(marital, 'Разведен / разведена')).toBe('divorced');
    expect(value(marital, `Холост${NBSP}/  не замужем`)).toBe('single');
  });

  it('lists the options when nothing matches', () => {
    const small = field('enum', { options: marital.options!.slice(0, 2) });
    expect(problem(small, 'gold')).toBe('"gold" is not one of: single (Холост / не замужем), married (Женат / замужем)');
    expect(problem(small, 'Холост')).toContain('is not one of');
    expect(problem(field('enum', { options: [] }), 'x')).toContain('no options');
  });

  it('reads a number from a spreadsheet as the option value', () => {
    const grades = field('enum', { options: [{ value: '1', label: { ru: 'Первый', en: 'First' } }] });
    expect(value(grades, 1)).toBe('1');
  });
});

describe('emails', () => {
  const email = field('email');
  it('trims and lower-cases a plausible address', () => {
    expect(value(email, '  A.Smirnov@Example.RU ')).toBe('a.smirnov@example.ru');
    expect(value(email, 'claims+kasko@garant-risk.example')).toBe('claims+kasko@garant-risk.example');
    expect(value(email, 'почта@пример.рф')).toBe('почта@пример.рф');
    expect(value(email, 'x@mail.xn--p1ai')).toBe('x@mail.xn--p1ai');
  });

  it.each(['abc', 'a@b', '@example.ru', 'a@.ru', 'a b@example.ru', 'a@exa mple.ru', 'a@@example.ru', 'a@b@example.ru', '.a@example.ru', 'a..b@example.ru', 'a@example..ru', 'a@-example.ru', 'a@example.r', 'Иван <a@example.ru>', `${'a'.repeat(300)}@example.ru`])(
    '%j is not an email address',
    (raw) => {
      expect(problem(email, raw)).toMatch(/is not an email address \(e\.g\. name@example\.ru\)$/);
    },
  );
});

describe('phones', () => {
  const phone = field('phone');
  it.each([
    ['8 (916) 123-45-67', '+79161234567'],
    ['+7 916 123 45 67', '+79161234567'],
    ['+7 (916) 123-45-67', '+79161234567'],
    ['9161234567', '+79161234567'],
    ['89161234567', '+79161234567'],
    ['79161234567', '+79161234567'],
    ['+7 495 620-44-10', '+74956204410'],
    ['(495) 620-44-10', '+74956204410'],
    ['8 800 555-35-35', '+78005553535'],
    [`+7${NBSP}916${NBSP}123-45-67`, '+79161234567'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+49 30 123456', '+4930123456'],
    ['00 49 30 123456', '+4930123456'],
    ['+1 (212) 555-0100', '+12125550100'],
  ])('%j → %s', (raw, expected) => {
    expect(value(phone, raw)).toBe(expected);
  });

  it('reads a number from a spreadsheet', () => {
    expect(value(phone, 89161234567)).toBe('+79161234567');
  });

  it.each(['12345', '+7 916 123 45 6', '+7 916 123 45 678', '916 123 45 67 8', '1234567890', '+1234567', '+1234567890123456', '+0 123 456 789', 'звоните', '8 916 123-45-67 доб. 12', '+7-916-ABC-45-67'])(
    '%j is not a phone number',
    (raw) => {
      expect(problem(phone, raw)).toMatch(/is not a phone number \(e\.g\. \+7 916 123-45-67\)$/);
    },
  );

  it('applies a pattern to the normalised number', () => {
    const mobile = field('phone', { validation: { pattern: '\\+79\\d{9}' } });
    expect(value(mobile, '8 916 123-45-67')).toBe('+79161234567');
    expect(problem(mobile, '8 495 620-44-10')).toContain('does not have the expected form');
  });
});

describe('text', () => {
  const text = field('text');
  it('trims and keeps everything else as typed', () => {
    expect(value(text, '  Москва  ')).toBe('Москва');
    expect(value(text, 'гор.  Ярославль')).toBe('гор.  Ярославль');
    expect(value(text, 'ООО «Ромашка»\nфилиал')).toBe('ООО «Ромашка»\nфилиал');
  });

  it('takes a number from a spreadsheet cell as its text', () => {
    expect(value(text, 381946)).toBe('381946');
    expect(problem(text, NaN)).toBe('NaN is not text');
    expect(problem(text, true)).toBe('true is not text');
  });

  it('matches the whole trimmed text against the pattern', () => {
    const digits = field('text', { validation: { pattern: '\\d{6}' } });
    expect(value(digits, ' 381946 ')).toBe('381946');
    expect(problem(digits, '3819467')).toBe('"3819467" does not have the expected form (\\d{6})');
    expect(problem(digits, 'x381946')).toContain('does not have the expected form');
    const either = field('text', { validation: { pattern: '\\d{10}|\\d{12}' } });
    expect(value(either, '7604123456')).toBe('7604123456');
    expect(problem(either, '76041234561')).toContain('expected form'); // the alternation is anchored as a whole
    const anchored = field('text', { validation: { pattern: '^[А-ЯЁа-яё][А-ЯЁа-яё -]*$', maxLength: 60 } });
    expect(value(anchored, 'Смирнов-Волков')).toBe('Смирнов-Волков');
    expect(problem(anchored, 'Smirnov')).toContain('expected form');
    expect(problem(anchored, '\u200BСмирнов')).toContain('\\u200B');
  });

  it('counts lengths in code points', () => {
    const short = field('text', { validation: { minLength: 2, maxLength: 3 } });
    expect(value(short, '😀😀😀')).toBe('😀😀😀');
    expect(problem(short, '😀😀😀😀')).toBe('"😀😀😀😀" is too long: 4 characters, at most 3');
    expect(problem(short, 'я')).toBe('"я" is too short: 1 characters, at least 2');
  });

  it('reports a broken schema pattern instead of throwing', () => {
    expect(problem(field('text', { validation: { pattern: '([' } }), 'x')).toContain('not a valid regular expression');
  });

  it('cuts long values short in problems', () => {
    const long = 'я'.repeat(10_000);
    const p = problem(field('text', { validation: { maxLength: 100 } }), long);
    expect(p).toContain('10000 characters, at most 100');
    expect(p.length).toBeLessThan(200);
    expect(value(text, long)).toBe(long);
  });
});

describe('hostile input', () => {
  const scalars = { money, number: field('number'), date: field('date'), boolean: field('boolean'), enum: marital, email: field('email'), phone: field('phone'), text: field('text') };

  it.each(Object.entries(scalars))('%s: a list or an object is a problem, not a crash', (_type, f) => {
    expect(problem(f, ['1'])).toMatch(/^a list is not /);
    expect(problem(f, [])).toMatch(/^a list is not /);
    expect(problem(f, { amount: 1 })).toMatch(/^an object is not /);
    expect(problem(f, Symbol('x'))).toContain('is not');
    expect(problem(f, () => 1)).toContain('is not');
  });

  // No wall-clock bound (busy machines): catastrophic backtracking would not finish, and the
  // test's timeout catches that.
  it.each(Object.entries(scalars))('%s: 10 000 characters are handled', (type, f) => {
    for (const raw of ['1'.repeat(10_000), '1 '.repeat(5_000), '1,'.repeat(5_000) + 'x', 'a'.repeat(10_000), '1.'.repeat(5_000)]) {
      const r = parseFieldValue(f, raw);
      if (!r.ok) expect(r.problem.length).toBeLessThan(300);
      else expect(type).toBe('text');
    }
  }, 30_000);

  it('shows invisible characters in problems, so a message cannot be reordered by what it quotes', () => {
    const p = problem(money, '\u202Eabc');
    expect(p).not.toContain('\u202E');
    expect(p).toBe('"abc" is not an amount of money (e.g. 1 500 000,00)'.replace('abc', '\\u202Eabc'));
    expect(problem(money, 'a"b\nc')).toBe('"a\\"b\\nc" is not an amount of money (e.g. 1 500 000,00)');
  });

  it('RTL marks and zero-width characters inside money', () => {
    expect(value(money, '\u2067\u200F1\u200D500\u2060000,00\u200E\u2069')).toBe('1500000.00');
    expect(value(money, '\u061C1 500 ₽')).toBe('1500.00');
  });

  it('Arabic-Indic and full-width digits are not quietly misread', () => {
    expect(parseMoney('١٥٠٠')).toBeNull();
    expect(parseMoney('１５００')).toBeNull();
  });
});

describe('tables', () => {
  it('parses each cell with its column type and drops empty cells', () => {
    expect(
      value(employment, [
        { employer: ' ООО «Ромашка» ', from: '01.02.2020', salary: '150 000', current: 'да' },
        { employer: 'ИП Петров', from: '', salary: null, current: false },
      ]),
    ).toEqual([
      { employer: 'ООО «Ромашка»', from: '2020-02-01', salary: '150000.00', current: true },
      { employer: 'ИП Петров', current: false },
    ]);
  });

  it('parses a JSON string first', () => {
    expect(value(employment, '[{"employer":"A","salary":1500.5}]')).toEqual([{ employer: 'A', salary: '1500.50' }]);
    expect(value(employment, '[]')).toBeNull();
    expect(value(employment, 'null')).toBeNull();
    expect(problem(employment, '[{"employer":')).toBe('"[{\\"employer\\":" is not a table (a JSON list of rows)');
    expect(problem(employment, '"text"')).toContain('is not a table');
    expect(problem(employment, '{"employer":"A"}')).toContain('is not a table');
  });

  it('names the row and column of a bad cell', () => {
    expect(problem(employment, [{ employer: 'A' }, { employer: 'B', salary: 'x' }])).toBe(
      'row 2, column "salary": "x" is not an amount of money (e.g. 1 500 000,00)',
    );
    expect(problem(employment, [{ employer: 'A', salary: '-1' }])).toBe('row 1, column "salary": -1,00 is below the minimum 0,00');
  });

  it('refuses unknown columns and missing required ones', () => {
    expect(problem(employment, [{ employer: 'A', boss: 'B' }])).toBe('row 1: unknown column "boss" (columns: employer, from, salary, current)');
    expect(problem(employment, [{ salary: '100' }])).toBe('row 1: column "employer" (Employer) is required');
    expect(problem(employment, [{ employer: '  ', salary: '100' }])).toBe('row 1: column "employer" (Employer) is required');
    expect(problem(employment, JSON.parse('[{"employer":"A","__proto__":{"x":1}}]'))).toContain('unknown column "__proto__"');
  });

  it('skips blank rows and reports rows that are not objects', () => {
    expect(value(employment, [{}, { employer: 'A' }, { employer: '', salary: null }])).toEqual([{ employer: 'A' }]);
    expect(value(employment, [{}])).toBeNull();
    expect(problem(employment, [{ employer: 'A' }, 'B'])).toBe('row 2: "B" is not a row of named cells');
    expect(problem(employment, [null])).toBe('row 1: nothing is not a row of named cells');
    expect(problem(employment, [['A']])).toBe('row 1: a list is not a row of named cells');
  });

  it('enforces maxRows on the rows that are not blank', () => {
    const four = [{ employer: 'A' }, { employer: 'B' }, { employer: 'C' }, { employer: 'D' }];
    expect(problem(employment, four)).toBe('4 rows are more than the maximum of 3');
    expect(value(employment, [...four.slice(0, 3), {}])).toHaveLength(3);
  });

  it('gives several problems in one message, and all of them from checkStoredValue', () => {
    const rows = Array.from({ length: 15 }, () => ({ salary: 'x' }));
    const big = field('table', { columns });
    const p = problem(big, rows);
    expect(p.split('; ')).toHaveLength(11);
    expect(p).toMatch(/and 20 more problems$/);
    expect(checkStoredValue(big, rows as never)).toHaveLength(30);
  });

  it('refuses scalars and objects given for a table', () => {
    expect(problem(employment, 5)).toBe('5 is not a table (a list of rows)');
    expect(problem(employment, true)).toContain('is not a table');
    expect(problem(employment, { employer: 'A' })).toBe('an object is not a table (a list of rows)');
  });
});

describe('checkStoredValue', () => {
  it('is empty for canonical values the field accepts', () => {
    expect(checkStoredValue(money, '1500000.00')).toEqual([]);
    expect(checkStoredValue(field('date'), '2026-11-21')).toEqual([]);
    expect(checkStoredValue(field('phone'), '+79161234567')).toEqual([]);
    expect(checkStoredValue(field('email'), 'a@example.ru')).toEqual([]);
    expect(checkStoredValue(marital, 'married')).toEqual([]);
    expect(checkStoredValue(field('boolean'), false)).toEqual([]);
    expect(checkStoredValue(field('number'), 12.5)).toEqual([]);
    expect(checkStoredValue(employment, [{ employer: 'A', salary: '100.00', from: '2020-02-01' }])).toEqual([]);
    expect(checkStoredValue(money, null)).toEqual([]);
  });

  it('flags values a new version of the field would not accept', () => {
    // loan_amount: min 30 000 → 50 000
    expect(checkStoredValue(field('money', { validation: { min: 50000 } }), '40000.00')).toEqual(['40 000,00 is below the minimum 50 000,00']);
    // an option that was dropped
    expect(checkStoredValue(field('enum', { options: marital.options!.slice(1) }), 'single')).toEqual([
      '"single" is not one of: married (Женат / замужем), divorced (Разведён / разведена)',
    ]);
    // text → email
    expect(checkStoredValue(field('email'), 'not an address')).toEqual(['"not an address" is not an email address (e.g. name@example.ru)']);
    expect(checkStoredValue(field('email'), 'A@Example.ru')).toEqual([]);
    // number → money, and money → number
    expect(checkStoredValue(money, 1500.5)).toEqual([]);
    expect(checkStoredValue(field('number', { validation: { integer: true } }), '1500.00')).toEqual([]);
    expect(checkStoredValue(field('number', { validation: { integer: true } }), '1500.50')).toEqual(['1500,5 is not a whole number']);
    // a table that gained a required column and a lower maxRows
    expect(checkStoredValue(field('table', { columns, validation: { maxRows: 1 } }), [{ employer: 'A' }, { salary: '1.00' }])).toEqual([
      'row 2: column "employer" (Employer) is required',
      '2 rows are more than the maximum of 1',
    ]);
  });
});

describe('displayValue', () => {
  it('shows money with no-break spaces and a decimal comma', () => {
    expect(displayValue(money, '1500000.00')).toBe(`1${NBSP}500${NBSP}000,00`);
    expect(displayValue(money, '1000000000000000.01')).toBe(`1${NBSP}000${NBSP}000${NBSP}000${NBSP}000${NBSP}000,01`);
    expect(displayValue(money, '-5000.00')).toBe(`-5${NBSP}000,00`);
    expect(displayValue(money, '999.50')).toBe('999,50');
    expect(displayValue(money, '0.00')).toBe('0,00');
    expect(displayValue(money, '1500000.00', 'en')).toBe('1,500,000.00');
    expect(displayValue(money, 1500)).toBe(`1${NBSP}500,00`); // a number stored before a type change
  });

  it('shows dates, booleans, numbers, enums, phones and tables', () => {
    expect(displayValue(field('date'), '2026-11-21')).toBe('21.11.2026');
    expect(displayValue(field('boolean'), true)).toBe('да');
    expect(displayValue(field('boolean'), false)).toBe('нет');
    expect(displayValue(field('boolean'), true, 'en')).toBe('yes');
    expect(displayValue(field('number'), 12.5)).toBe('12,5');
    expect(displayValue(field('number'), 12.5, 'en')).toBe('12.5');
    expect(displayValue(field('number'), 1990)).toBe('1990');
    expect(displayValue(marital, 'married')).toBe('Женат / замужем');
    expect(displayValue(marital, 'married', 'en')).toBe('Married');
    expect(displayValue(marital, 'widowed')).toBe('widowed');
    expect(displayValue(field('phone'), '+79161234567')).toBe('+7 916 123-45-67');
    expect(displayValue(field('phone'), '+442079460958')).toBe('+442079460958');
    expect(displayValue(field('text'), 'Москва')).toBe('Москва');
    expect(displayValue(field('email'), 'a@example.ru')).toBe('a@example.ru');
    expect(displayValue(field('text'), null)).toBe('');
  });

  it('counts table rows in Russian and English', () => {
    const rows = (n: number) => Array.from({ length: n }, () => ({ employer: 'A' }));
    expect(displayValue(employment, rows(1))).toBe('1 строка');
    expect(displayValue(employment, rows(2))).toBe('2 строки');
    expect(displayValue(employment, rows(5))).toBe('5 строк');
    expect(displayValue(employment, rows(11))).toBe('11 строк');
    expect(displayValue(employment, rows(21))).toBe('21 строка');
    expect(displayValue(employment, rows(22))).toBe('22 строки');
    expect(displayValue(employment, rows(1), 'en')).toBe('1 row');
    expect(displayValue(employment, rows(3), 'en')).toBe('3 rows');
  });

  it('round-trips: what is displayed parses back to the same value', () => {
    const cases: [Field, unknown][] = [
      [money, '1500000.00'],
      [money, '-0.05'],
      [money, '123456789012345.67'],
      [field('date'), '2024-02-29'],
      [field('boolean'), true],
      [field('number'), -12.75],
      [marital, 'divorced'],
      [field('phone'), '+79161234567'],
    ];
    for (const [f, v] of cases) expect(value(f, displayValue(f, v as never))).toEqual(v);
  });
});
