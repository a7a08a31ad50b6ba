// Dates: RFC 5322 first, then the forms mail clients print in forwarded header blocks.

export function parseHeaderDate(value: string | null): Date | null {
  if (!value) return null;
  const v = value.slice(0, 300); // dates are short; a long value is junk and must not cost time
  const t = Date.parse(v.replace(/\s*\([^()]*\)\s*$/, '')); // "… +0300 (MSK)"
  if (!Number.isNaN(t)) return new Date(t);
  return looseDate(v);
}

export const MONTHS: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
  'янв': 1, 'фев': 2, 'мар': 3, 'апр': 4, 'май': 5, 'мая': 5, 'июн': 6, 'июл': 7, 'авг': 8, 'сен': 9, 'окт': 10, 'ноя': 11, 'дек': 12,
  'mär': 3, mai: 5, okt: 10, dez: 12,
};

/**
 * Dates as mail clients print them in forward and reply headers ("Friday, November 21, 2026 10:15 AM",
 * "21 ноября 2026 г. 10:15", "пт, 21 нояб. 2026 г. в 10:15", "21.11.2026, 10:15", RFC 5322).
 * Without a zone the time is taken as Moscow time (UTC+3), where nearly all our correspondents are.
 */
export function looseDate(value: string): Date | null {
  const s = value.slice(0, 300); // keeps the month-name regexes linear on junk
  let y = 0;
  let mo = 0;
  let d = 0;
  const iso = /(\d{4})-(\d{2})-(\d{2})/.exec(s);
  const numeric = /\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b/.exec(s);
  if (iso) [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  else if (numeric) {
    [d, mo, y] = [Number(numeric[1]), Number(numeric[2]), Number(numeric[3])];
    if (mo > 12 && d <= 12) [d, mo] = [mo, d]; // 11/21/2026
  } else {
    for (const m of s.matchAll(/(\d{1,2})\.?\s+([A-Za-zА-Яа-яЁёä]{3,})\.?,?\s+(\d{4})/gu)) {
      const month = MONTHS[m[2]!.slice(0, 3).toLowerCase()];
      if (month) {
        [d, mo, y] = [Number(m[1]), month, Number(m[3])];
        break;
      }
    }
    if (!y) {
      for (const m of s.matchAll(/([A-Za-z]{3,})\.?\s+(\d{1,2}),?\s+(\d{4})/g)) {
        const month = MONTHS[m[1]!.slice(0, 3).toLowerCase()];
        if (month) {
          [d, mo, y] = [Number(m[2]), month, Number(m[3])];
          break;
        }
      }
    }
  }
  if (!y || mo < 1 || mo > 12 || d < 1 || d > 31) return null;
  let hh = 0;
  let mm = 0;
  let ss = 0;
  let offset = 180; // minutes east of UTC: Moscow
  const time = /\b(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?/.exec(s);
  if (time) {
    [hh, mm, ss] = [Number(time[1]), Number(time[2]), Number(time[3] ?? 0)];
    const ampm = time[4]?.toLowerCase();
    if (ampm === 'pm' && hh < 12) hh += 12;
    if (ampm === 'am' && hh === 12) hh = 0;
    const rest = s.slice(time.index + time[0].length);
    const zone = /^\s*\(?(?:GMT|UTC|UT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?/i.exec(rest);
    if (zone) offset = (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3] ?? 0));
    else if (/^\s*\(?(GMT|UTC|UT|Z)\b/i.test(rest)) offset = 0;
  }
  if (hh > 23 || mm > 59 || ss > 60) return null;
  const t = Date.UTC(y, mo - 1, d, hh, mm, ss) - offset * 60_000;
  return Number.isNaN(t) ? null : new Date(t);
}

const ZONES: Record<string, number> = { gmt: 0, ut: 0, utc: 0, z: 0, msk: 180, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420, cet: 60, cest: 120, eet: 120, eest: 180 };

/**
 * The zone a date was written in, in minutes east of UTC ("+0300", "GMT+03:00", "MSK", "PST"), or
 * null when it names none (a date-only forwarded header, a time without a zone). Routing takes the
 * calendar date in this offset — "Sun, 6 Dec 2026 01:10 +0300" is the 6th, not the 5th — and in the
 * business time zone when it is null.
 */
export function dateOffset(value: string | null): number | null {
  if (!value) return null;
  const s = value.slice(0, 300);
  const time = /\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?/.exec(s);
  if (!time) return null;
  const rest = s.slice(time.index + time[0].length);
  const numeric = /^\s*\(?(?:GMT|UTC|UT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?(?!\d)/i.exec(rest);
  if (numeric) return (numeric[1] === '-' ? -1 : 1) * (Number(numeric[2]) * 60 + Number(numeric[3] ?? 0));
  const named = /^\s*\(?([A-Za-z]{1,4})\b/.exec(rest);
  const zone = named ? ZONES[named[1]!.toLowerCase()] : undefined;
  return zone ?? null;
}
