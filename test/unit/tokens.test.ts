import { describe, expect, it } from 'vitest';
import { parseReplyAddress, parseSubjectTags, replyAddress, replyToken, subjectTag, verifyToken } from '../../src/outbound/tokens.js';

const SECRET = 'test-secret-1f9c2a';
const REF = 'DL-2026-00042';

describe('reply tokens', () => {
  const token = replyToken(SECRET, REF, 'lawyer-petrov');

  it('is six base32 characters and stable', () => {
    expect(token).toMatch(/^[a-z2-7]{6}$/);
    expect(replyToken(SECRET, REF, 'lawyer-petrov')).toBe(token);
    // The ref is normalised, so a ref read back from a lower-cased address gives the same token.
    expect(replyToken(SECRET, 'dl-2026-00042', 'lawyer-petrov')).toBe(token);
  });

  it('matches HMAC-SHA256 over "ref\\nparty", first 30 bits', async () => {
    const { createHmac } = await import('node:crypto');
    const mac = createHmac('sha256', SECRET).update(`${REF}\nlawyer-petrov`).digest();
    const bits = mac.readUInt32BE(0) >>> 2;
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    const expected = [25, 20, 15, 10, 5, 0].map((s) => alphabet[(bits >>> s) & 31]).join('');
    expect(token).toBe(expected);
  });

  it('verifies only for the same party, record and secret', () => {
    expect(verifyToken(SECRET, REF, 'lawyer-petrov', token)).toBe(true);
    expect(verifyToken(SECRET, REF, 'lawyer-ivanova', token)).toBe(false);
    expect(verifyToken(SECRET, 'DL-2026-00043', 'lawyer-petrov', token)).toBe(false);
    expect(verifyToken(SECRET, 'CL-2026-00042', 'lawyer-petrov', token)).toBe(false);
    expect(verifyToken('another-secret', REF, 'lawyer-petrov', token)).toBe(false);
  });

  it('gives different tokens to different parties of one record (over many parties)', () => {
    const tokens = new Set(Array.from({ length: 200 }, (_, i) => replyToken(SECRET, REF, `party-${i}`)));
    expect(tokens.size).toBe(200);
  });

  it('is case-insensitive and tolerates surrounding spaces', () => {
    expect(verifyToken(SECRET, REF, 'lawyer-petrov', token.toUpperCase())).toBe(true);
    expect(verifyToken(SECRET, 'dl-2026-00042', 'lawyer-petrov', ` ${token.toUpperCase()} `)).toBe(true);
  });

  it('rejects malformed tokens without throwing', () => {
    for (const bad of ['', 'abc', `${token}a`, token.slice(0, 5), 'abcde1', 'abcde8', 'abc de', 'абвгде', '******']) {
      expect(verifyToken(SECRET, REF, 'lawyer-petrov', bad)).toBe(false);
    }
    expect(verifyToken(SECRET, 'not-a-ref', 'lawyer-petrov', token)).toBe(false);
    expect(verifyToken(SECRET, REF, '', token)).toBe(false);
    expect(verifyToken(SECRET, REF, 'lawyer-petrov', undefined as unknown as string)).toBe(false);
  });

  it('refuses an empty secret and an invalid ref when issuing', () => {
    expect(() => replyToken('', REF, 'lawyer-petrov')).toThrow(/secret/);
    expect(() => verifyToken('', REF, 'lawyer-petrov', token)).toThrow(/secret/);
    expect(() => replyToken(SECRET, 'DL-42', 'lawyer-petrov')).toThrow(/reference/);
  });
});

describe('subject tags', () => {
  it('builds tags', () => {
    expect(subjectTag(REF)).toBe('[DL-2026-00042]');
    expect(subjectTag('dl-2026-00042', 'K7F3QA')).toBe('[DL-2026-00042 k7f3qa]');
    expect(() => subjectTag('DL-2026-42')).toThrow();
    expect(() => subjectTag(REF, 'k7f3q')).toThrow();
  });

  it('round-trips a built tag', () => {
    const t = replyToken(SECRET, REF, 'bank-sever');
    expect(parseSubjectTags(`${subjectTag(REF, t)} Заявка на кредит`)).toEqual([{ ref: REF, token: t }]);
  });

  const cases: [string, { ref: string; token?: string }[]][] = [
    ['[DL-2026-00042] Заявка на автокредит: Смирнов', [{ ref: REF }]],
    ['Re: Fwd: [DL-2026-00042 k7f3q9] Документы по сделке', [{ ref: REF, token: 'k7f3q9' }]],
    ['RE: AW: [cl-2026-00017]', [{ ref: 'CL-2026-00017' }]],
    ['Re:  Re:   [ DL-2026-00042 k7f3q9 ]  ответ юриста', [{ ref: REF, token: 'k7f3q9' }]],
    ['Ответ: Пересл.: [DL-2026-00042   K7F3Q9] скан паспорта', [{ ref: REF, token: 'k7f3q9' }]],
    ['FW: [DL-2026-00042\u00a0k7f3q9] non-breaking space from Outlook', [{ ref: REF, token: 'k7f3q9' }]],
    ['Re: [DL-2026-00042\r\n k7f3q9] folded header, unfolded badly', [{ ref: REF, token: 'k7f3q9' }]],
    ['[EXT] RE: [DL-2026-00042] external sender warning', [{ ref: REF }]],
    ['[SPAM] [DL-2026-00042 k7f3q9]', [{ ref: REF, token: 'k7f3q9' }]],
    ['Re: [CL-2026-00017] and [DL-2026-00042 k7f3q9] two records', [{ ref: 'CL-2026-00017' }, { ref: REF, token: 'k7f3q9' }]],
    ['Re: [DL-2026-00042] Re: [DL-2026-00042] quoted twice', [{ ref: REF }]],
    ['[DL-2026-00042] then [DL-2026-00042 k7f3q9]', [{ ref: REF }, { ref: REF, token: 'k7f3q9' }]],
    ['[DL-2026-1234567] long sequence', [{ ref: 'DL-2026-1234567' }]],
    ['Заявка на кредит, без номера', []],
    ['', []],
    ['DL-2026-00042 without brackets', []],
    ['[DL-26-42] short ref', []],
    ['[ABCDE-2026-00042] five-letter prefix', []],
    ['[DL-2026-0042] four digits', []],
    ['[#12345] ticket from another system', []],
    ['[Ticket 2026-00042] lookalike', []],
    ['[DL-2026-00042 k7f3q9x] seven-character token', []],
    ['[DL-2026-00042 срочно] a word in the tag', []],
    ['[DL-2026-00042 urgent] six letters look like a token', [{ ref: REF, token: 'urgent' }]],
  ];
  it.each(cases)('%j', (subject, expected) => {
    expect(parseSubjectTags(subject)).toEqual(expected);
  });

  it('a token found in a subject still has to verify', () => {
    const [tag] = parseSubjectTags('[DL-2026-00042 urgent] six letters');
    expect(verifyToken(SECRET, tag!.ref, 'lawyer-petrov', tag!.token!)).toBe(false);
  });
});

describe('reply plus-addresses', () => {
  it('builds the documented form', () => {
    expect(replyAddress('intake@dossier.example', 'DL-2026-00042', 'k7f3qa')).toBe('intake+dl-2026-00042.k7f3qa@dossier.example');
  });

  it('round-trips, tolerant of case and display names', () => {
    const t = replyToken(SECRET, REF, 'lawyer-petrov');
    const a = replyAddress('intake@dossier.example', REF, t);
    expect(parseReplyAddress(a)).toEqual({ ref: REF, token: t });
    expect(parseReplyAddress(a.toUpperCase())).toEqual({ ref: REF, token: t });
    expect(parseReplyAddress(`"Dossier intake" <${a}>`)).toEqual({ ref: REF, token: t });
    expect(parseReplyAddress(`  ${a}  `)).toEqual({ ref: REF, token: t });
    const back = parseReplyAddress(a)!;
    expect(verifyToken(SECRET, back.ref, 'lawyer-petrov', back.token)).toBe(true);
  });

  it('returns null for addresses without a tag', () => {
    for (const a of [
      'intake@dossier.example',
      'intake+newsletter@dossier.example',
      'intake+dl-2026-00042@dossier.example',
      'intake+dl-2026-42.k7f3qa@dossier.example',
      'intake+dl-2026-00042.k7f3@dossier.example',
      'intake+dl-2026-00042.k7f3qa',
      'not an address',
      '',
    ]) {
      expect(parseReplyAddress(a)).toBeNull();
    }
  });

  it('refuses intake addresses it could not parse back', () => {
    expect(() => replyAddress('intake+x@dossier.example', REF, 'k7f3qa')).toThrow();
    expect(() => replyAddress('Dossier <intake@dossier.example>', REF, 'k7f3qa')).toThrow();
    expect(() => replyAddress('intake', REF, 'k7f3qa')).toThrow();
    expect(() => replyAddress('intake@dossier.example', REF, 'nope')).toThrow();
  });
});
