// The tag language shared by DOCX templates, PDF mappings and email templates: a field name and a
// chain of filters, nothing else — `loan_amount | words`, `borrower_birth_date | date:"long"`.
// No expression evaluator (the angular-expressions parser has a history of code-execution advisories).

export interface TagFilter { name: string; arg?: string }
export interface ParsedTag { raw: string; name: string; filters: TagFilter[] }

const NAME = /^\$?[a-z][a-z0-9_]*$/;
const FILTER = /^([a-z_]+)(?:\s*:\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s|"']+)))?$/;

/** Splits on | outside quotes. */
function splitPipes(s: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === '\\' && i + 1 < s.length) {
        cur += ch + s[++i];
        continue;
      }
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '|') {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (quote) throw new Error(`a quote is not closed in "${s}"`);
  parts.push(cur);
  return parts.map((p) => p.trim());
}

/** Parses one tag (without its braces); throws an Error whose message says what is wrong. */
export function parseTag(raw: string): ParsedTag {
  // Word sometimes turns straight quotes typed into a tag into curly ones.
  const text = raw.replace(/[“”„«»]/g, '"').replace(/[‘’]/g, "'").trim();
  const [head, ...rest] = splitPipes(text);
  if (!head || !NAME.test(head)) throw new Error(`"${head ?? ''}" is not a field name (lower-case letters, digits and _)`);
  const filters = rest.map((f) => {
    const m = FILTER.exec(f);
    if (!m) throw new Error(`"${f}" is not a filter (write name or name:"argument")`);
    const arg = m[2] ?? m[3] ?? m[4];
    return arg === undefined ? { name: m[1]! } : { name: m[1]!, arg: arg.replace(/\\(.)/g, '$1') };
  });
  return { raw, name: head, filters };
}

/** The {…} tags of a text (PDF mapping strings): literal parts and tags in order. */
export function splitTemplateString(s: string): ({ text: string } | { tag: ParsedTag })[] {
  const out: ({ text: string } | { tag: ParsedTag })[] = [];
  let last = 0;
  const re = /\{([^{}]*)\}/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index > last) out.push({ text: s.slice(last, m.index) });
    out.push({ tag: parseTag(m[1]!) });
    last = m.index + m[0].length;
  }
  if (last < s.length) out.push({ text: s.slice(last) });
  return out;
}
