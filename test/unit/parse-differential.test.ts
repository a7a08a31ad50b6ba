import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMessage, type ParseLimits } from '../../src/inbound/parse.js';
import type { ParsedMessage } from '../../src/inbound/types.js';
import { replyToken } from '../../src/outbound/tokens.js';
import { fixturesDir } from '../../src/paths.js';
import { hostileCorpus, type HostileContext } from '../helpers/hostile.js';
import { fillMailFixture } from '../../src/tools/mail-fixtures.js';

// Dossier's parser beside an independent one (mailparser 3.9, the parser of Nodemailer's author) on
// the project's mail fixtures and the hostile corpus: the subject, the sender's address, and the
// attachments' names and count. Where they differ, each difference falls under one of the reasons
// below, each saying why Dossier's reading is the one intake needs; a difference under no reason
// fails the test. The agreement figures are printed (README.md, "Mail parsing, measured").

const LIMITS: ParseLimits = { maxAttachmentBytes: 25 * 1024 * 1024, maxMessageBytes: 50 * 1024 * 1024, maxAttachments: 100 };
const SEED = 20261201;
const MAILPARSER_VERSION = (JSON.parse(readFileSync(path.join(fixturesDir, '..', 'node_modules', 'mailparser', 'package.json'), 'utf8')) as { version: string }).version;
const COUNT = 400;

interface Sample { name: string; raw: Buffer }
type Field = 'subject' | 'sender' | 'attachments';
interface Difference { sample: string; field: Field; dossier: string; mailparser: string; reason: string | null }

const clean = (s: string | undefined | null) => (s ?? '').replace(/[\u0000-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '').replace(/\s+/g, ' ').trim();

/** Multiset difference: the items of `a` not matched in `b`. */
function minus(a: string[], b: string[]): string[] {
  const left = [...b];
  return a.filter((x) => {
    const i = left.indexOf(x);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

// A control or 8-bit byte inside a MIME field name or a Content-* line (the hostile corpus's
// "byte-flips", "control-chars" and "invalid-utf8" families): the header cannot be trusted.
const DAMAGED_HEADER = /^(?:[!-9;-~]*[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff][!-9;-~\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]*:|content-[\w-]*\s*:[^\n]*[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]|\t[^\n]*(?:file)?name[^\n]*[\x00-\x08\x0b\x0c\x0e-\x1f\x7f])/im;
const NOT_DOCUMENTS = /^(application\/(x-)?pkcs7-signature|application\/pgp-signature|message\/(global-)?delivery-status|message\/disposition-notification|text\/rfc822-headers|text\/calendar)$/;

/** Why Dossier reads a message differently from mailparser; null when no reason covers it (a failure). */
function explain(field: Field, raw: Buffer, d: ParsedMessage, p: ParsedMail | Error, dv: string, pv: string): string | null {
  if (p instanceof Error) return `mailparser gave up on the message ("${p.message.slice(0, 60)}"); Dossier reads what it can, with a warning`;
  const damaged = DAMAGED_HEADER.test(raw.toString('latin1'));
  if (field === 'attachments') {
    if (d.auto === 'bounce') return 'a delivery report: the returned copy of our own message is not a document (mailparser lists it and the report parts as files)';
    const dn = d.attachments.map((a) => clean(a.originalName ?? a.fileName));
    const pn = p.attachments.map((a) => clean(a.filename ?? '(unnamed)'));
    const onlyD = minus(dn, pn);
    const onlyP = minus(pn, dn);
    const fallback = new Set(d.attachments.filter((a) => a.originalName === null).map((a) => clean(a.fileName)));
    if (onlyD.length === onlyP.length && onlyD.every((n) => fallback.has(n)) && onlyP.every((n) => n === '(unnamed)')) return 'unnamed parts: Dossier names them from the sniffed type or the attached message\'s subject ("file.pdf", "<subject>.eml"), mailparser leaves the name empty';
    if (onlyD.length === 0 && onlyP.length > 0 && onlyP.every((n) => d.warnings.some((w) => w.includes(`"${n}"`) && /not kept/.test(w)))) return 'a file over a size or count limit, or cut off by truncation, is dropped with a warning naming it (mailparser keeps it, or the fragment)';
    const unnamedP = p.attachments.filter((a) => !a.filename);
    if (onlyD.length === 0 && onlyP.every((n) => n === '(unnamed)') && unnamedP.length && unnamedP.every((a) => NOT_DOCUMENTS.test(a.contentType) || !/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(a.contentType))) return 'signature, report, calendar parts and parts with a garbage Content-Type are not documents (the last are read as text, RFC 2045 §5.2); mailparser files them as unnamed attachments';
    const bare = (x: string[]) => x.map((n) => n.replace(/[\s\u0000-\u001f\u007f]/g, '')).sort().join('|');
    if (bare(onlyD) === bare(onlyP)) return 'control characters and whitespace in a name: Dossier drops NULs and controls (PostgreSQL and file systems cannot hold them)';
    if (d.forwarded?.kind === 'rfc822' && onlyD.length === 0 && onlyP.every((n) => d.forwarded!.attachments.some((a) => clean(a.originalName ?? a.fileName) === n))) return 'files of a message forwarded as an attachment are filed under `forwarded` with it';
    if (onlyP.length && p.attachments.some((a) => /[\u0000\ufffd]|=\?/.test(a.filename ?? '')) && /name\*?=\s*"?[^"\n]*=\?/i.test(raw.toString('latin1'))) return 'encoded-words inside a file name (not allowed by RFC 2047, but what Outlook sends): Dossier decodes them, mailparser gives NULs or the raw text';
    if (damaged) return 'a part header with a control or 8-bit byte in a field name or Content-* line: Dossier does not guess that part\'s type or name (a damaged first line makes the part text), mailparser skips the damaged bytes; each recovers a different part of the damage';
    return null;
  }
  if (field === 'sender') {
    if (d.fromCount > 1 && (pv === '' || d.fromAddresses.some((a) => a.address.toLowerCase() === pv))) return 'several From: headers: Dossier takes the first and warns (mailparser the last); neither authorises anything';
    if (damaged || /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]/.test(d.headers.get('from')?.join('') ?? '') || /[^\x00-\x7f]/.test(dv + pv)) return 'control or 8-bit bytes inside the From: header: each parser recovers a different fragment (Dossier reads 8-bit as windows-125x, mailparser as U+FFFD); neither is a mailbox any party has';
    if (dv === '' && d.headers.size === 0) return 'a message whose first line is no header field: Dossier reads it all as body (no sender, so nothing is authorised), mailparser skips the line and takes the headers after it';
    if (pv === '' && dv) return 'mailparser found no address in a From: that Dossier read (CR CR LF line ends, folded or 8-bit header)';
    return null;
  }
  // subject
  if ((d.headers.get('subject')?.length ?? 0) > 1) return 'several Subject: headers: Dossier takes the first (mailparser the last)';
  if (damaged && /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(/^subject:[^\n]*(\n[ \t][^\n]*)*/im.exec(raw.toString('latin1'))?.[0] ?? '')) return 'control characters inside the Subject: header: each parser recovers a different fragment';
  if (d.warnings.some((w) => /raw 8-bit|read as|charset|repaired|U\+FFFD/.test(w))) return 'a missing or wrong charset: Dossier checks the declaration against the bytes (UTF-8, Russian letter frequencies, Latin words) where mailparser follows it';
  if (/=[0-9A-F]{2}=[0-9A-F]{2}/.test(pv) && !/=[0-9A-F]{2}=[0-9A-F]{2}/.test(dv)) return 'CR CR LF line ends: mailparser unfolds the encoded-words wrongly and leaves them half decoded; Dossier decodes them';
  if (pv.includes('=?') && dv.startsWith(pv)) return 'malformed encoded-words: Dossier keeps the undecodable text as written, mailparser drops the rest of the subject';
  if (pv.includes('=?') && !dv.includes('=?')) return 'encoded-words mailparser leaves undecoded (an unknown charset spelling, split inside a character, not space-separated); Dossier decodes them';
  if (dv.includes('\ufffd') || pv.includes('\ufffd')) return 'invalid bytes: each replaces them at a different granularity';
  if (d.warnings.some((w) => /header is .* long/.test(w))) return 'a header over 64 KB is cut with a warning (mailparser rejects or keeps it all)';
  if (d.warnings.some((w) => /byte-order mark|mbox|CR-only/.test(w))) return 'a BOM, an mbox "From " line or CR-only line ends before the headers: Dossier repairs the start, mailparser reads no headers';
  if (dv.replace(/\s/g, '') === pv.replace(/\s/g, '')) return 'whitespace between encoded-words: RFC 2047 §6.2 drops it, mailparser keeps some';
  if (damaged) return 'a header with a control or 8-bit byte in a field name: each parser recovers a different fragment';
  return null;
}

function attachmentNames(list: { name: string | null }[]): string {
  return list.map((a) => a.name ?? '(unnamed)').join(' | ');
}

async function samples(): Promise<Sample[]> {
  const refs = { deal: 'DL-2026-00001', claim: 'CL-2026-00001', secret: 'differential-secret-0123456789abcdef', messageIdOf: async (party: string) => `<out.2026-00001.${party}@dossier.example>` };
  const dir = path.join(fixturesDir, 'mail');
  const fixtures: Sample[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.eml')).sort()) {
    fixtures.push({ name, raw: Buffer.from(await fillMailFixture(readFileSync(path.join(dir, name), 'latin1'), refs, new Date('2026-11-21T08:00:00Z')), 'latin1') });
  }
  const ctx: HostileContext = {
    fixtures,
    refs: { deal: refs.deal, claim: refs.claim },
    token: (ref, party) => replyToken(refs.secret, ref, party),
    outboxMessageIds: ['<out.2026-00001.bank-sever@dossier.example>'],
    staff: 'manager@dossier.example',
    authServId: 'mx.dossier.example',
  };
  const hostile: Sample[] = [];
  for (const h of hostileCorpus(SEED, COUNT, ctx)) if (!h.heavy) hostile.push({ name: `hostile#${h.seq} ${h.family}`, raw: h.raw });
  return [...fixtures, ...hostile];
}

const differences: Difference[] = [];
const blank = () => ({ messages: 0, subject: 0, sender: 0, attachments: 0, allThree: 0 });
const counts = { all: blank(), fixtures: blank(), hostile: blank() };

describe('Dossier beside mailparser', () => {
  it('agree on subject, sender and attachments, or differ for a listed reason', async () => {
    for (const s of await samples()) {
      const d = await parseMessage(s.raw, LIMITS);
      const p = await simpleParser(s.raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true }).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      const groups = [counts.all, s.name.startsWith('hostile#') ? counts.hostile : counts.fixtures];
      for (const g of groups) g.messages++;
      const dossier = {
        subject: clean(d.subject),
        sender: (d.from?.address ?? '').toLowerCase(),
        attachments: attachmentNames(d.attachments.map((a) => ({ name: a.originalName ?? a.fileName }))),
      };
      const other = p instanceof Error
        ? { subject: '', sender: '', attachments: '' }
        : {
            subject: clean(p.subject),
            sender: (p.from?.value[0]?.address ?? '').toLowerCase(),
            attachments: attachmentNames(p.attachments.map((a) => ({ name: a.filename ?? null }))),
          };
      let same = 0;
      for (const field of ['subject', 'sender', 'attachments'] as const) {
        if (dossier[field] === other[field]) {
          for (const g of groups) g[field]++;
          same++;
          continue;
        }
        differences.push({ sample: s.name, field, dossier: dossier[field].slice(0, 120), mailparser: other[field].slice(0, 120), reason: explain(field, s.raw, d, p, dossier[field], other[field]) });
      }
      if (same === 3) for (const g of groups) g.allThree++;
    }
    const unexplained = differences.filter((x) => x.reason === null);
    expect(unexplained).toEqual([]);
  }, 300_000);

  afterAll(() => {
    const line = (c: ReturnType<typeof blank>) => {
      const pct = (n: number) => `${((100 * n) / Math.max(1, c.messages)).toFixed(1)}%`;
      return `${c.messages} messages: subject ${pct(c.subject)}, sender ${pct(c.sender)}, attachments ${pct(c.attachments)}, all three ${pct(c.allThree)} agree`;
    };
    console.log(`differential, Dossier vs mailparser ${MAILPARSER_VERSION}:\n  fixtures/mail: ${line(counts.fixtures)}\n  hostile corpus (seed ${SEED}, the first ${COUNT} but the heavy ones): ${line(counts.hostile)}\n  together: ${line(counts.all)}`);
    const byReason = new Map<string, number>();
    for (const x of differences) byReason.set(`${x.field}: ${x.reason ?? 'UNEXPLAINED'}`, (byReason.get(`${x.field}: ${x.reason ?? 'UNEXPLAINED'}`) ?? 0) + 1);
    for (const [reason, n] of [...byReason].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(4)} × ${reason}`);
    if (process.env.DIFF_DUMP) writeFileSync(process.env.DIFF_DUMP, JSON.stringify(differences, null, 1));
    for (const x of differences.filter((d) => d.reason === null).slice(0, 40)) console.log(`  UNEXPLAINED ${x.sample} ${x.field}: dossier «${x.dossier}» mailparser «${x.mailparser}»`);
  });
});
