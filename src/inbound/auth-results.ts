// Authentication-Results (RFC 8601) read as the grammar says, not split on ";": a ";" or "dmarc=pass"
// inside a quoted value or a comment is text, not a result (a sender can put anything in the
// "reason" or a property it controls, e.g. smtp.mailfrom, and our own MTA copies it there).
//
//   authres-payload = [CFWS] authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS]
//   resinfo   = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
//   methodspec = [CFWS] method [CFWS] "=" [CFWS] result        method = Keyword [ "/" version ]
//   reasonspec = "reason" [CFWS] "=" [CFWS] value               value  = token / quoted-string
//   propspec  = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
//
// No npm package parses this header (checked); it is a small recursive-descent parser. Anything
// it cannot read is an error, and the caller trusts nothing from such a header.

export interface AuthProperty {
  ptype: string; // lower-cased: smtp, header, body, policy
  property: string; // lower-cased: from, d, mailfrom, …
  value: string;
}

export interface AuthResult {
  method: string; // lower-cased: dkim, spf, dmarc, …
  version?: string;
  result: string; // lower-cased: pass, fail, none, …
  reason?: string;
  props: AuthProperty[];
}

export interface AuthResultsHeader {
  authServId: string;
  version?: string;
  /** Empty for "authserv-id; none". */
  results: AuthResult[];
}

export class AuthResultsSyntaxError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(`${message} at character ${at + 1}`);
    this.name = 'AuthResultsSyntaxError';
  }
}

// RFC 2045 tspecials: what a token may not contain.
const TSPECIALS = new Set('()<>@,;:\\"/[]?='.split(''));

class Reader {
  i = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.i >= this.s.length;
  }

  peek(): string {
    return this.s[this.i] ?? '';
  }

  fail(message: string): never {
    throw new AuthResultsSyntaxError(message, this.i);
  }

  /** Folding white space and comments (nested, with quoted-pairs), any number of them. */
  cfws(): void {
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.i++;
      else if (c === '(') this.comment();
      else return;
    }
  }

  private comment(): void {
    const start = this.i;
    let depth = 0;
    while (!this.done) {
      const c = this.s[this.i++];
      if (c === '\\') this.i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) return;
    }
    this.i = start;
    this.fail('unclosed comment');
  }

  expect(c: string): void {
    if (this.peek() !== c) this.fail(`expected "${c}"${this.done ? ', found the end' : `, found "${this.peek()}"`}`);
    this.i++;
  }

  quoted(): string {
    const start = this.i;
    this.expect('"');
    let out = '';
    while (!this.done) {
      const c = this.s[this.i++]!;
      if (c === '"') return out;
      if (c === '\\') {
        if (this.done) break;
        out += this.s[this.i++];
      } else out += c;
    }
    this.i = start;
    return this.fail('unclosed quoted string');
  }

  token(): string {
    const start = this.i;
    while (!this.done) {
      const c = this.peek();
      if (c <= ' ' || c === '\x7f' || TSPECIALS.has(c)) break;
      this.i++;
    }
    if (this.i === start) this.fail('expected a value');
    return this.s.slice(start, this.i);
  }

  /** value = token / quoted-string */
  value(): string {
    return this.peek() === '"' ? this.quoted() : this.token();
  }

  /** Keyword = ldh-str (letters, digits, hyphens; "_" tolerated, as some filters write it). */
  keyword(what: string): string {
    const m = /^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?/.exec(this.s.slice(this.i));
    if (!m) this.fail(`expected ${what}`);
    this.i += m[0].length;
    return m[0];
  }

  /**
   * pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]. An unquoted pvalue is read
   * up to white space, a comment, ";" or a quote: wide enough for a base64 header.b (with "/", "+",
   * "="), and it can never swallow a ";" — a value with one in it must be quoted, and then it is text.
   */
  pvalue(): string {
    this.cfws();
    if (this.peek() === '"') {
      const q = this.quoted();
      if (this.peek() !== '@') return q;
      this.i++;
      return `${q}@${this.bare()}`;
    }
    return this.bare();
  }

  private bare(): string {
    const m = /^[^\s();"\\,]+/.exec(this.s.slice(this.i));
    if (!m) this.fail('expected a property value');
    this.i += m[0].length;
    return m[0];
  }
}

/** The whole header value (after "Authentication-Results:"), or AuthResultsSyntaxError. */
export function parseAuthResults(value: string): AuthResultsHeader {
  const r = new Reader(value);
  r.cfws();
  const authServId = r.value();
  const header: AuthResultsHeader = { authServId, results: [] };
  r.cfws();
  if (/[0-9]/.test(r.peek())) {
    header.version = r.keyword('a version');
    if (!/^[0-9]+$/.test(header.version)) r.fail('the version must be digits');
    r.cfws();
  }
  if (r.done) r.fail('no result after the authserv-id');
  let first = true;
  while (!r.done) {
    r.expect(';');
    r.cfws();
    if (r.done) break; // a trailing ";" is tolerated, as many MTAs write one
    const method = r.keyword('a method').toLowerCase();
    r.cfws();
    if (first && method === 'none' && r.done) return header; // no-result
    first = false;
    const res: AuthResult = { method, result: '', props: [] };
    if (r.peek() === '/') {
      r.i++;
      r.cfws();
      res.version = r.keyword('a method version');
      r.cfws();
    }
    r.expect('=');
    r.cfws();
    res.result = r.keyword('a result').toLowerCase();
    for (;;) {
      r.cfws();
      if (r.done || r.peek() === ';') break;
      const word = r.keyword('a property or reason').toLowerCase();
      r.cfws();
      if (word === 'reason' && r.peek() === '=') {
        if (res.reason !== undefined || res.props.length) r.fail('"reason" must come once, before the properties');
        r.i++;
        r.cfws();
        res.reason = r.value();
        continue;
      }
      r.expect('.');
      r.cfws();
      const property = r.keyword('a property name').toLowerCase();
      r.cfws();
      r.expect('=');
      res.props.push({ ptype: word, property, value: r.pvalue() });
    }
    header.results.push(res);
  }
  if (!header.results.length) r.fail('no result after the authserv-id');
  return header;
}

/** Only the authserv-id, for finding our MTA's header among others that may not parse: null when unreadable. */
export function authServIdOf(value: string): string | null {
  const r = new Reader(value);
  try {
    r.cfws();
    return r.value();
  } catch {
    return null;
  }
}

/** The value of one property (e.g. "header.from") of a result, or undefined. */
export function prop(result: AuthResult, name: string): string | undefined {
  const [ptype, property] = name.toLowerCase().split('.');
  return result.props.find((p) => p.ptype === ptype && p.property === property)?.value;
}
