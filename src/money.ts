// Money and other exact decimals, as digit strings (never through a float): reading, rounding
// half away from zero, and writing with digit grouping. One module for the field values
// (schemas/values.ts) and the template filters (documents/filters.ts).

export interface Decimal { negative: boolean; int: string; frac: string }

/** Expands what String(n) gives for a finite number, exponent forms ("1e+21", "1e-7") included. */
export function decimalFromNumber(n: number): Decimal {
  const s = String(Math.abs(n));
  const e = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  let int: string;
  let frac: string;
  if (e) {
    const digits = (e[1] ?? '') + (e[2] ?? '');
    const point = 1 + Number(e[3]); // where the decimal point goes in `digits`
    if (point >= digits.length) [int, frac] = [digits.padEnd(point, '0'), ''];
    else if (point > 0) [int, frac] = [digits.slice(0, point), digits.slice(point)];
    else [int, frac] = ['0', '0'.repeat(-point) + digits];
  } else {
    [int = '0', frac = ''] = s.split('.');
  }
  return { negative: n < 0, int, frac };
}

/** A finite number or plain decimal text ("-1500000.00", "12.5") as digits; null for anything else. */
export function decimalOf(value: unknown): Decimal | null {
  if (typeof value === 'number') return Number.isFinite(value) ? decimalFromNumber(value) : null;
  const m = typeof value === 'string' ? /^(-?)(\d+)(?:\.(\d+))?$/.exec(value) : null;
  if (!m) return null;
  return { negative: m[1] === '-', int: (m[2] ?? '0').replace(/^0+(?=\d)/, ''), frac: m[3] ?? '' };
}

/** Kopecks (or any minor units with two decimals) as a decimal. */
export function decimalFromCents(cents: bigint): Decimal {
  const digits = (cents < 0n ? -cents : cents).toString().padStart(3, '0');
  return { negative: cents < 0n, int: digits.slice(0, -2), frac: digits.slice(-2) };
}

/** Rounded to `places` decimals, half away from zero (the usual rule for money on paper). */
export function roundDecimal(d: Decimal, places: number): Decimal {
  let units = BigInt(d.int + d.frac.slice(0, places).padEnd(places, '0'));
  if ((d.frac[places] ?? '0') >= '5') units += 1n;
  const digits = units.toString().padStart(places + 1, '0');
  const cut = digits.length - places;
  // -0.001 rounds to 0.00, which has no sign.
  return { negative: d.negative && units !== 0n, int: digits.slice(0, cut), frac: digits.slice(cut) };
}

/** "1500000" → "1 500 000" with `sep` between groups of three. */
export const groupDigits = (int: string, sep: string): string => int.replace(/\B(?=(\d{3})+$)/g, sep);

/** Grouped integer digits, the fraction after `point`; no sign on a zero. */
export function formatDecimal(d: Decimal, thousands: string, point: string): string {
  const sign = d.negative && /[1-9]/.test(d.int + d.frac) ? '-' : '';
  return `${sign}${groupDigits(d.int, thousands)}${d.frac ? point + d.frac : ''}`;
}
