import { describe, expect, it } from 'vitest';
import {
  amountInWords,
  defaultDisplay,
  FILTERS,
  FilterError,
  filterProblem,
  formatDateLong,
  formatMoney,
  formatPhone,
  type FilterArg,
  type FilterContext,
} from '../../src/documents/filters.js';
import type { ColumnDef, FieldDef, FieldType } from '../../src/schemas/types.js';

const NBSP = '\u00A0';

function field(type: FieldType, extra: Partial<FieldDef> = {}): FieldDef {
  return {
    id: `some_${type}`,
    type,
    label: { ru: 'Поле', en: 'Field' },
    required: false,
    scope: 'base',
    overridable: false,
    retired: false,
    section: 'main',
    line: 1,
    ...extra,
  };
}

const money = field('money');
const number = field('number');
const date = field('date');
const text = field('text');
const phone = field('phone');
const bool = field('boolean');
const table = field('table');
const marital = field('enum', {
  options: [
    { value: 'single', label: { ru: 'Холост / не замужем', en: 'Single' } },
    { value: 'married', label: { ru: 'Женат / замужем', en: 'Married' } },
  ],
});

const ctxOf = (f: FieldDef | ColumnDef | null, lang: 'ru' | 'en' = 'ru'): FilterContext => ({ field: f, lang });

/** Applies one filter the way the template engine does. */
function run(name: string, value: unknown, arg: FilterArg, f: FieldDef | ColumnDef | null, lang: 'ru' | 'en' = 'ru'): unknown {
  const spec = FILTERS.get(name);
  if (!spec) throw new Error(`no filter ${name}`);
  return spec.apply(value, arg, ctxOf(f, lang));
}

/** Applies a chain left to right, each filter getting the previous result. */
function chain(value: unknown, f: FieldDef | null, ...filters: [string, FilterArg?][]): unknown {
  return filters.reduce((v, [name, arg]) => run(name, v, arg, f), value);
}

/** The message of the FilterError a call throws. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FilterError);
    return (err as Error).message;
  }
  throw new Error('expected a FilterError');
}

const words = (v: unknown, arg?: string, f: FieldDef | null = money): unknown => run('words', v, arg, f);

describe('the filter set', () => {
  it('has exactly the documented filters, each well described', () => {
    expect([...FILTERS.keys()].sort()).toEqual(
      ['capitalize', 'count', 'date', 'default', 'digits', 'is', 'label', 'lower', 'money', 'number', 'phone', 'present', 'tick', 'upper', 'words', 'yesno'].sort(),
    );
    for (const [name, spec] of FILTERS) {
      expect(spec.name).toBe(name);
      expect(spec.appliesTo.length).toBeGreaterThan(0);
    }
    expect(FILTERS.get('is')?.condition).toBe(true);
    expect(FILTERS.get('present')?.condition).toBe(true);
    expect(FILTERS.get('words')?.condition).toBeFalsy();
  });

  it('passes a missing value through formatting filters as null, for the caller to report', () => {
    for (const name of ['date', 'money', 'words', 'upper', 'lower', 'capitalize', 'phone', 'yesno', 'label', 'number']) {
      expect(run(name, null, undefined, null)).toBeNull();
      expect(run(name, undefined, undefined, null)).toBeNull();
    }
  });

  it('refuses arguments where none is taken, and missing or unknown ones', () => {
    expect(failure(() => run('upper', 'a', 'x', text))).toBe('the "upper" filter takes no argument');
    expect(failure(() => run('default', null, undefined, text))).toBe('the "default" filter needs an argument');
    expect(failure(() => run('date', '2026-11-21', 'medium', date))).toMatch(/does not know the argument "medium" \(allowed: short, long, en, iso, or a pattern of dd, MM, yyyy, yy such as "ddMMyyyy"\)/);
  });

  it('writes a date in cells with a pattern and keeps only the digits of a value, for comb fields', () => {
    expect(run('date', '1985-03-14', 'ddMMyyyy', date)).toBe('14031985');
    expect(run('date', '1985-03-14', 'dd.MM.yy', date)).toBe('14.03.85');
    expect(run('digits', '112-233-445 95', undefined, text)).toBe('11223344595');
    expect(failure(() => run('digits', '1', 'x', text))).toBe('the "digits" filter takes no argument');
    expect(failure(() => run('money', '1.00', 'usd', money))).toMatch(/allowed: int, en/);
  });
});

describe('date', () => {
  it('shows every form', () => {
    expect(run('date', '2026-11-21', undefined, date)).toBe('21.11.2026');
    expect(run('date', '2026-11-21', 'short', date)).toBe('21.11.2026');
    expect(run('date', '2026-11-21', 'long', date)).toBe('21 ноября 2026 г.');
    expect(run('date', '2026-11-21', 'en', date)).toBe('21 November 2026');
    expect(run('date', '2026-11-21', 'iso', date)).toBe('2026-11-21');
    expect(run('date', '2026-03-05', undefined, date)).toBe('05.03.2026');
  });

  it('uses the genitive month and no leading zero on the day', () => {
    const cases: [string, string, string][] = [
      ['2026-01-01', '1 января 2026 г.', '1 January 2026'],
      ['2026-02-02', '2 февраля 2026 г.', '2 February 2026'],
      ['2026-03-03', '3 марта 2026 г.', '3 March 2026'],
      ['2026-04-04', '4 апреля 2026 г.', '4 April 2026'],
      ['2026-05-05', '5 мая 2026 г.', '5 May 2026'],
      ['2026-06-06', '6 июня 2026 г.', '6 June 2026'],
      ['2026-07-07', '7 июля 2026 г.', '7 July 2026'],
      ['2026-08-08', '8 августа 2026 г.', '8 August 2026'],
      ['2026-09-09', '9 сентября 2026 г.', '9 September 2026'],
      ['2026-10-10', '10 октября 2026 г.', '10 October 2026'],
      ['2026-11-30', '30 ноября 2026 г.', '30 November 2026'],
      ['2026-12-31', '31 декабря 2026 г.', '31 December 2026'],
    ];
    for (const [iso, ru, en] of cases) {
      expect(formatDateLong(iso, 'ru')).toBe(ru);
      expect(formatDateLong(iso, 'en')).toBe(en);
      expect(run('date', iso, 'long', date)).toBe(ru);
    }
  });

  it('knows leap days', () => {
    expect(run('date', '2024-02-29', 'long', date)).toBe('29 февраля 2024 г.');
    expect(run('date', '2000-02-29', undefined, date)).toBe('29.02.2000');
    expect(failure(() => run('date', '2026-02-29', undefined, date))).toMatch(/needs a date \(YYYY-MM-DD\), got "2026-02-29"/);
    expect(() => run('date', '1900-02-29', undefined, date)).toThrow(FilterError);
  });

  it('refuses what is not a canonical date', () => {
    for (const bad of ['21.11.2026', '2026-13-01', '2026-11-31', '2026-1-5', 'завтра', '', 20261121, true, [], {}]) {
      expect(() => run('date', bad, undefined, date)).toThrow(FilterError);
    }
    expect(failure(() => formatDateLong('abc', 'ru'))).toMatch(/got "abc"/);
  });
});

describe('money', () => {
  it('groups thousands with U+00A0 and uses a decimal comma', () => {
    expect(run('money', '1500000.00', undefined, money)).toBe(`1${NBSP}500${NBSP}000,00`);
    expect(run('money', '1500000.00', undefined, money)).toBe('1\u00A0500\u00A0000,00');
    expect(run('money', '999.99', undefined, money)).toBe('999,99');
    expect(run('money', '1000.00', undefined, money)).toBe(`1${NBSP}000,00`);
    expect(run('money', '0.05', undefined, money)).toBe('0,05');
    expect(run('money', '-1234567.89', undefined, money)).toBe(`-1${NBSP}234${NBSP}567,89`);
  });

  it('int drops kopecks, rounding half away from zero; en uses commas and a point', () => {
    expect(run('money', '1500000.00', 'int', money)).toBe(`1${NBSP}500${NBSP}000`);
    expect(run('money', '1500000.49', 'int', money)).toBe(`1${NBSP}500${NBSP}000`);
    expect(run('money', '1500000.50', 'int', money)).toBe(`1${NBSP}500${NBSP}001`);
    expect(run('money', '-0.40', 'int', money)).toBe('0');
    expect(run('money', '1500000.00', 'en', money)).toBe('1,500,000.00');
    expect(run('money', '-12.30', 'en', money)).toBe('-12.30');
  });

  it('is exact for huge amounts', () => {
    expect(run('money', '999999999999999.99', undefined, money)).toBe(['999', '999', '999', '999', '999'].join(NBSP) + ',99');
    expect(run('money', '1000000000000000.01', 'en', money)).toBe('1,000,000,000,000,000.01');
    expect(run('money', '123456789012345678.91', undefined, money)).toBe(['123', '456', '789', '012', '345', '678'].join(NBSP) + ',91');
  });

  it('takes number fields, and plain decimal text such as a default', () => {
    expect(run('money', 48, undefined, number)).toBe('48,00');
    expect(run('money', 1234.5, undefined, number)).toBe(`1${NBSP}234,50`);
    expect(run('money', 0.125, undefined, number)).toBe('0,13');
    expect(run('money', 1.005, undefined, number)).toBe('1,01'); // decimal rounding, not binary (toFixed gives 1.00)
    expect(chain(null, money, ['default', '0'], ['money'])).toBe('0,00');
  });

  it('formatMoney', () => {
    expect(formatMoney('1500000.00')).toBe('1\u00A0500\u00A0000,00');
    expect(formatMoney('1500000.00', { kopecks: false })).toBe('1\u00A0500\u00A0000');
    expect(formatMoney('1500000.00', { kopecks: true })).toBe('1\u00A0500\u00A0000,00');
    expect(formatMoney('12')).toBe('12,00');
    expect(formatMoney('100000')).toBe('100\u00A0000,00');
    expect(() => formatMoney('1 500 000,00')).toThrow(FilterError);
  });

  it('refuses what is not an amount', () => {
    for (const bad of ['abc', '1 500,00', '1e5', '', '.5', NaN, Infinity, true, [], {}]) {
      expect(() => run('money', bad, undefined, money)).toThrow(FilterError);
    }
    expect(failure(() => run('money', 'abc', undefined, money))).toBe('the "money" filter needs an amount or a number (e.g. 1500000.00), got "abc"');
  });
});

describe('words (Russian)', () => {
  const roubles: [string, string][] = [
    ['0.00', 'Ноль рублей 00 копеек'],
    ['1.00', 'Один рубль 00 копеек'],
    ['2.00', 'Два рубля 00 копеек'],
    ['4.00', 'Четыре рубля 00 копеек'],
    ['5.00', 'Пять рублей 00 копеек'],
    ['11.00', 'Одиннадцать рублей 00 копеек'],
    ['12.00', 'Двенадцать рублей 00 копеек'],
    ['14.00', 'Четырнадцать рублей 00 копеек'],
    ['15.00', 'Пятнадцать рублей 00 копеек'],
    ['19.00', 'Девятнадцать рублей 00 копеек'],
    ['20.00', 'Двадцать рублей 00 копеек'],
    ['21.00', 'Двадцать один рубль 00 копеек'],
    ['22.00', 'Двадцать два рубля 00 копеек'],
    ['25.00', 'Двадцать пять рублей 00 копеек'],
    ['100.00', 'Сто рублей 00 копеек'],
    ['101.00', 'Сто один рубль 00 копеек'],
    ['111.00', 'Сто одиннадцать рублей 00 копеек'],
    ['112.00', 'Сто двенадцать рублей 00 копеек'],
    ['1000.00', 'Одна тысяча рублей 00 копеек'],
    ['1001.00', 'Одна тысяча один рубль 00 копеек'],
    ['2000.00', 'Две тысячи рублей 00 копеек'],
    ['5000.00', 'Пять тысяч рублей 00 копеек'],
    ['21000.00', 'Двадцать одна тысяча рублей 00 копеек'],
    ['1000000.00', 'Один миллион рублей 00 копеек'],
    ['1500000.00', 'Один миллион пятьсот тысяч рублей 00 копеек'],
    ['2000000.00', 'Два миллиона рублей 00 копеек'],
    ['1000000000000000.00', 'Один квадриллион рублей 00 копеек'],
  ];
  it.each(roubles)('%s → %s', (amount, expected) => {
    expect(words(amount)).toBe(expected);
    expect(words(amount, 'ru')).toBe(expected);
    expect(amountInWords(amount, 'ru')).toBe(expected);
  });

  const kopecks: [string, string, string][] = [
    ['0.01', 'Ноль рублей 01 копейка', 'Ноль рублей одна копейка'],
    ['0.02', 'Ноль рублей 02 копейки', 'Ноль рублей две копейки'],
    ['0.04', 'Ноль рублей 04 копейки', 'Ноль рублей четыре копейки'],
    ['0.05', 'Ноль рублей 05 копеек', 'Ноль рублей пять копеек'],
    ['0.11', 'Ноль рублей 11 копеек', 'Ноль рублей одиннадцать копеек'],
    ['0.12', 'Ноль рублей 12 копеек', 'Ноль рублей двенадцать копеек'],
    ['0.21', 'Ноль рублей 21 копейка', 'Ноль рублей двадцать одна копейка'],
    ['0.22', 'Ноль рублей 22 копейки', 'Ноль рублей двадцать две копейки'],
    ['0.50', 'Ноль рублей 50 копеек', 'Ноль рублей пятьдесят копеек'],
    ['1.00', 'Один рубль 00 копеек', 'Один рубль ноль копеек'],
    ['1500000.21', 'Один миллион пятьсот тысяч рублей 21 копейка', 'Один миллион пятьсот тысяч рублей двадцать одна копейка'],
  ];
  it.each(kopecks)('%s → %s / %s', (amount, digits, full) => {
    expect(words(amount)).toBe(digits);
    expect(words(amount, 'full')).toBe(full);
    expect(amountInWords(amount, 'ru', { kopecksInWords: true })).toBe(full);
  });

  it('keeps roubles masculine when kopecks are feminine', () => {
    expect(words('2.02', 'full')).toBe('Два рубля две копейки');
    expect(words('21.21', 'full')).toBe('Двадцать один рубль двадцать одна копейка');
  });

  it('says минус for negative amounts', () => {
    expect(words('-1500.00')).toBe('Минус одна тысяча пятьсот рублей 00 копеек');
    expect(words('-0.01')).toBe('Минус ноль рублей 01 копейка');
    expect(words('-0.00')).toBe('Ноль рублей 00 копеек');
  });

  it('is exact for huge amounts (never through a float)', () => {
    // 10^15 + 1 and 2^53 + 1 are not representable as doubles.
    expect(words('1000000000000001.00')).toBe('Один квадриллион один рубль 00 копеек');
    expect(words('9007199254740993.99')).toBe(
      'Девять квадриллионов семь триллионов сто девяносто девять миллиардов двести пятьдесят четыре миллиона ' +
        'семьсот сорок тысяч девятьсот девяносто три рубля 99 копеек',
    );
    expect(words('999999999999999.99')).toMatch(/^Девятьсот девяносто девять триллионов .* девятьсот девяносто девять рублей 99 копеек$/);
  });

  it('spells a number field as its whole part with no currency', () => {
    expect(words(48, undefined, number)).toBe('сорок восемь');
    expect(words(48.7, undefined, number)).toBe('сорок восемь');
    expect(words(1, undefined, number)).toBe('один');
    expect(words(0, undefined, number)).toBe('ноль');
    expect(words(-3, undefined, number)).toBe('минус три');
    expect(words(-0.5, undefined, number)).toBe('ноль');
    expect(words(1e21, undefined, number)).toBe('один секстиллион');
    expect(words(48, 'en', number)).toBe('forty-eight');
    // Without a field, a JS number is a number and decimal text an amount.
    expect(words(48, undefined, null)).toBe('сорок восемь');
    expect(words('48.00', undefined, null)).toBe('Сорок восемь рублей 00 копеек');
  });

  it('spells a money value given as a JS number', () => {
    expect(words(1500000, undefined, money)).toBe('Один миллион пятьсот тысяч рублей 00 копеек');
    expect(words(0.5, undefined, money)).toBe('Ноль рублей 50 копеек');
  });

  it('refuses what is not an amount', () => {
    expect(failure(() => words('abc'))).toBe('the "words" filter needs an amount or a number (e.g. 1500000.00), got "abc"');
    for (const bad of ['', '1,5', '1 000.00', true, [], {}, NaN]) expect(() => words(bad)).toThrow(FilterError);
    expect(() => words('1.00', 'de')).toThrow(/allowed: ru, full, en/);
    expect(() => amountInWords('x', 'ru')).toThrow(FilterError);
  });
});

describe('words (English)', () => {
  const cases: [string, string][] = [
    ['1500000.00', 'One million five hundred thousand roubles 00 kopecks'],
    ['1.00', 'One rouble 00 kopecks'],
    ['1.01', 'One rouble 01 kopeck'],
    ['2.21', 'Two roubles 21 kopecks'],
    ['21.00', 'Twenty-one roubles 00 kopecks'],
    ['0.50', 'Zero roubles 50 kopecks'],
    ['101.00', 'One hundred one roubles 00 kopecks'],
    ['-5.00', 'Minus five roubles 00 kopecks'],
    ['1000000000000000.00', 'One quadrillion roubles 00 kopecks'],
  ];
  it.each(cases)('%s → %s', (amount, expected) => {
    expect(words(amount, 'en')).toBe(expected);
    expect(amountInWords(amount, 'en')).toBe(expected);
  });

  it('can spell kopecks too', () => {
    expect(amountInWords('1.01', 'en', { kopecksInWords: true })).toBe('One rouble one kopeck');
    expect(amountInWords('3.45', 'en', { kopecksInWords: true })).toBe('Three roubles forty-five kopecks');
  });
});

describe('upper, lower, capitalize', () => {
  it('change the case of text', () => {
    expect(run('upper', 'Иванов Иван', undefined, text)).toBe('ИВАНОВ ИВАН');
    expect(run('lower', 'Иванов Иван', undefined, text)).toBe('иванов иван');
    expect(run('capitalize', 'ёлкин', undefined, text)).toBe('Ёлкин');
    expect(run('capitalize', 'иван ИВАНОВ', undefined, text)).toBe('Иван ИВАНОВ');
    expect(run('capitalize', '', undefined, text)).toBe('');
  });

  it('work on the default display of other types', () => {
    expect(run('upper', 'married', undefined, marital)).toBe('ЖЕНАТ / ЗАМУЖЕМ');
    expect(run('upper', true, undefined, bool)).toBe('ДА');
    expect(run('capitalize', false, undefined, bool)).toBe('Нет');
    expect(run('upper', true, undefined, bool, 'en')).toBe('YES');
    expect(run('lower', '2026-11-21', undefined, date)).toBe('21.11.2026');
    expect(run('upper', 12.5, undefined, number)).toBe('12,5');
  });

  it('work on the output of an earlier filter', () => {
    expect(chain('1500000.00', money, ['words'], ['upper'])).toBe('ОДИН МИЛЛИОН ПЯТЬСОТ ТЫСЯЧ РУБЛЕЙ 00 КОПЕЕК');
    expect(chain('2026-11-21', date, ['date', 'long'], ['upper'])).toBe('21 НОЯБРЯ 2026 Г.');
    expect(chain('married', marital, ['label', 'en'], ['lower'])).toBe('married');
    expect(chain(48, number, ['words'], ['capitalize'])).toBe('Сорок восемь');
  });
});

describe('phone', () => {
  it('formats Russian numbers', () => {
    expect(run('phone', '+79161234567', undefined, phone)).toBe('+7 (916) 123-45-67');
    expect(formatPhone('+74951234567')).toBe('+7 (495) 123-45-67');
  });

  it('groups other countries sensibly', () => {
    expect(formatPhone('+375291234567')).toBe('+375 29 123-45-67');
    expect(formatPhone('+442071234567')).toBe('+44 207 123-45-67');
    expect(formatPhone('+12125551234')).toBe('+1 212 555-12-34');
    expect(formatPhone('+998901234567')).toBe('+998 90 123-45-67');
    expect(formatPhone('+3531234567')).toBe('+353 123-45-67');
  });

  it('reads phone-like text in a text field', () => {
    expect(run('phone', '8 (916) 123-45-67', undefined, text)).toBe('+7 (916) 123-45-67');
    expect(run('phone', '+7 916 123 45 67', undefined, text)).toBe('+7 (916) 123-45-67');
  });

  it('refuses what is not a phone number', () => {
    expect(failure(() => run('phone', 'позвонить', undefined, text))).toMatch(/needs a phone number .*got "позвонить"/);
    for (const bad of ['+7916', '+0123456789', '+7916123456', '+791612345678', 79161234567, true]) expect(() => run('phone', bad, undefined, phone)).toThrow(FilterError);
    expect(() => formatPhone('79161234567')).toThrow(FilterError);
  });
});

describe('default', () => {
  it('replaces no value with its argument', () => {
    for (const empty of [null, undefined, '', []]) expect(run('default', empty, 'не указано', text)).toBe('не указано');
    expect(run('default', null, '', text)).toBe('');
  });

  it('leaves a real value unchanged for later filters', () => {
    expect(run('default', 'Иван', '—', text)).toBe('Иван');
    expect(run('default', false, '—', bool)).toBe(false);
    expect(run('default', 0, '—', number)).toBe(0);
    expect(run('default', [{ a: 1 }], '—', table)).toEqual([{ a: 1 }]);
    expect(chain('2026-11-21', date, ['default', '—'], ['date', 'long'])).toBe('21 ноября 2026 г.');
  });
});

describe('tick', () => {
  it('ticks yes/no values', () => {
    expect(run('tick', true, undefined, bool)).toBe('\u2612');
    expect(run('tick', false, undefined, bool)).toBe('\u2610');
    expect(run('tick', null, undefined, bool)).toBe('☐');
  });

  it('ticks an enum option given as the argument', () => {
    expect(run('tick', 'married', 'married', marital)).toBe('☒');
    expect(run('tick', 'single', 'married', marital)).toBe('☐');
    expect(run('tick', null, 'married', marital)).toBe('☐');
  });

  it('refuses the wrong argument for the field', () => {
    expect(failure(() => run('tick', 'married', undefined, marital))).toMatch(/needs the option value to tick for \(e\.g\. tick:single\)/);
    expect(failure(() => run('tick', true, 'married', bool))).toMatch(/takes no argument on yes\/no field "some_boolean"/);
    expect(failure(() => run('tick', 'married', 'maried', marital))).toMatch(/"maried" is not an option of field "some_enum" \(options: single, married\)/);
    expect(() => run('tick', 'married', undefined, null)).toThrow(FilterError);
    expect(() => run('tick', 1, 'x', null)).toThrow(FilterError);
  });
});

describe('yesno, label', () => {
  it('yesno', () => {
    expect(run('yesno', true, undefined, bool)).toBe('да');
    expect(run('yesno', false, undefined, bool)).toBe('нет');
    expect(run('yesno', true, 'ru', bool)).toBe('да');
    expect(run('yesno', true, 'en', bool)).toBe('yes');
    expect(run('yesno', false, 'en', bool)).toBe('no');
    expect(failure(() => run('yesno', 'да', undefined, bool))).toBe('the "yesno" filter needs yes/no, got "да"');
  });

  it('label', () => {
    expect(run('label', 'married', undefined, marital)).toBe('Женат / замужем');
    expect(run('label', 'married', 'ru', marital)).toBe('Женат / замужем');
    expect(run('label', 'married', 'en', marital)).toBe('Married');
    expect(failure(() => run('label', 'widowed', undefined, marital))).toBe('"widowed" is not an option of field "some_enum"');
    expect(() => run('label', 'x', undefined, text)).toThrow(/needs a choice field/);
    expect(() => run('label', true, undefined, marital)).toThrow(FilterError);
  });
});

describe('is, present, count', () => {
  it('is compares with an option or true/false', () => {
    expect(run('is', 'married', 'married', marital)).toBe(true);
    expect(run('is', 'single', 'married', marital)).toBe(false);
    expect(run('is', null, 'married', marital)).toBe(false);
    expect(run('is', true, 'true', bool)).toBe(true);
    expect(run('is', false, 'true', bool)).toBe(false);
    expect(run('is', false, 'false', bool)).toBe(true);
    expect(failure(() => run('is', true, 'да', bool))).toMatch(/takes true or false, not "да"/);
    expect(failure(() => run('is', 'married', 'wed', marital))).toMatch(/not an option/);
    expect(() => run('is', 'married', undefined, marital)).toThrow('the "is" filter needs an argument');
    expect(() => run('is', 5, '5', null)).toThrow(FilterError);
  });

  it('present is false for no value only', () => {
    for (const empty of [null, undefined, '', []]) expect(run('present', empty, undefined, null)).toBe(false);
    for (const real of ['x', 0, false, [{ a: 1 }], '0.00']) expect(run('present', real, undefined, null)).toBe(true);
  });

  it('count counts the rows of a table', () => {
    expect(run('count', [{ a: 1 }, { a: 2 }, { a: 3 }], undefined, table)).toBe(3);
    expect(run('count', null, undefined, table)).toBe(0);
    expect(failure(() => run('count', 'abc', undefined, table))).toBe('the "count" filter needs a table, got "abc"');
  });
});

describe('number', () => {
  it('uses a decimal comma and U+00A0 thousands', () => {
    expect(run('number', 12345.5, undefined, number)).toBe('12\u00A0345,5');
    expect(run('number', 7, undefined, number)).toBe('7');
    expect(run('number', -1234567, undefined, number)).toBe(`-1${NBSP}234${NBSP}567`);
    expect(run('number', 1e21, undefined, number)).toBe(['1', '000', '000', '000', '000', '000', '000', '000'].join(NBSP));
    expect(run('number', 1e-7, undefined, number)).toBe('0,0000001');
    expect(run('number', '1500000.00', undefined, money)).toBe(`1${NBSP}500${NBSP}000,00`);
  });

  it('rounds or pads to the decimals given', () => {
    expect(run('number', 12345.5, '2', number)).toBe(`12${NBSP}345,50`);
    expect(run('number', 12345.5, '0', number)).toBe(`12${NBSP}346`);
    expect(run('number', 7.125, '2', number)).toBe('7,13');
    expect(run('number', 0.0001, '2', number)).toBe('0,00');
    expect(run('number', '1500000.55', '1', money)).toBe(`1${NBSP}500${NBSP}000,6`);
  });

  it('refuses bad arguments and values', () => {
    expect(failure(() => run('number', 1, 'two', number))).toMatch(/number of decimals from 0 to 20, not "two"/);
    expect(() => run('number', 1, '21', number)).toThrow(FilterError);
    expect(() => run('number', 'abc', undefined, number)).toThrow(FilterError);
    expect(() => run('number', true, undefined, number)).toThrow(FilterError);
  });
});

describe('defaultDisplay', () => {
  it('shows each type as values.ts does', () => {
    const ru = (v: unknown, f: FieldDef | null): string | null => defaultDisplay(v, ctxOf(f));
    expect(ru('1500000.00', money)).toBe(`1${NBSP}500${NBSP}000,00`);
    expect(ru('2026-11-21', date)).toBe('21.11.2026');
    expect(ru(true, bool)).toBe('да');
    expect(ru('married', marital)).toBe('Женат / замужем');
    expect(ru(12.5, number)).toBe('12,5');
    expect(ru('Иван', text)).toBe('Иван');
    expect(ru([{ a: 1 }, { a: 2 }], table)).toBe('2 строки');
    expect(defaultDisplay('1500000.00', ctxOf(money, 'en'))).toBe('1,500,000.00');
    expect(defaultDisplay(true, ctxOf(bool, 'en'))).toBe('yes');
  });

  it('returns null for no value, and guesses by JS type without a field', () => {
    expect(defaultDisplay(null, ctxOf(text))).toBeNull();
    expect(defaultDisplay(undefined, ctxOf(null))).toBeNull();
    expect(defaultDisplay(3.5, ctxOf(null))).toBe('3,5');
    expect(defaultDisplay(false, ctxOf(null))).toBe('нет');
    expect(defaultDisplay('текст', ctxOf(null))).toBe('текст');
    expect(() => defaultDisplay({}, ctxOf(null))).toThrow(FilterError);
  });

  it('leaves the text output of a filter alone', () => {
    expect(defaultDisplay('Один рубль 00 копеек', ctxOf(money))).toBe('Один рубль 00 копеек');
    expect(defaultDisplay('21 ноября 2026 г.', ctxOf(date))).toBe('21 ноября 2026 г.');
  });
});

describe('filterProblem (for template lint)', () => {
  it('accepts proper use', () => {
    expect(filterProblem('words', ctxOf(money), undefined)).toBeNull();
    expect(filterProblem('tick', ctxOf(marital), 'single')).toBeNull();
    expect(filterProblem('tick', ctxOf(bool), undefined)).toBeNull();
    expect(filterProblem('upper', ctxOf(table), undefined)).toBeNull();
    expect(filterProblem('number', ctxOf(number), '3')).toBeNull();
  });

  it('names what is wrong', () => {
    expect(filterProblem('wrods', ctxOf(money), undefined)).toMatch(/^there is no filter "wrods" \(filters: date, money, words/);
    expect(filterProblem('words', ctxOf(date), undefined)).toBe('the "words" filter applies to money, number fields, and field "some_date" is date');
    expect(filterProblem('tick', ctxOf(marital), undefined)).toMatch(/needs the option value/);
    expect(filterProblem('tick', ctxOf(bool), 'x')).toMatch(/takes no argument/);
    expect(filterProblem('is', ctxOf(bool), 'yes')).toMatch(/takes true or false/);
    expect(filterProblem('date', ctxOf(date), 'full')).toMatch(/does not know the argument "full"/);
    expect(filterProblem('default', ctxOf(text), undefined)).toBe('the "default" filter needs an argument');
    expect(filterProblem('number', ctxOf(number), '-1')).toMatch(/decimals from 0 to 20/);
  });
});
