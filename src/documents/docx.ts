import { DOMParser, XMLSerializer, type Element } from '@xmldom/xmldom';
import Docxtemplater from 'docxtemplater';
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import PizZip from 'pizzip';
import { DossierError } from '../errors.js';
import type { ColumnDef, FieldDef } from '../schemas/types.js';
import { evaluateTag, type LoopScope, type RenderData } from './evaluate.js';
import { parseTag, splitTemplateString } from './tags.js';
import { fillLegacyFields } from './word-legacy.js';
import { isTicked } from './ticks.js';

// DOCX templates with docxtemplater: fields, loops over table rows and paragraphs, conditions that
// remove their whole paragraph or row (paragraphLoop), ticks as glyphs (the tick filter) and as real
// Word checkbox content controls (tagged dossier:<field> or dossier:<field>=<option>).

const W14 = 'http://schemas.microsoft.com/office/word/2010/wordml';
const W = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';
const ROW = Symbol('row columns');
type Row = Record<string, unknown> & { [ROW]?: Map<string, ColumnDef> };

// A filled document.xml is deflated again on every render: Node's zlib does it several times faster
// than the JavaScript deflate PizZip ships with. Registered as a compression of its own (the same
// method number, 8, so entries left untouched keep their compressed bytes) rather than replacing it.
const NODE_DEFLATE = 'NODE_DEFLATE';
(PizZip as unknown as { compressions: Record<string, unknown> }).compressions[NODE_DEFLATE] = {
  magic: '\x08\x00',
  compress: (input: Uint8Array) => deflateRawSync(input),
  uncompress: (input: Uint8Array) => inflateRawSync(input),
  compressInputType: 'uint8array',
  uncompressInputType: 'uint8array',
};

export function openDocx(bytes: Buffer, name: string): PizZip {
  try {
    const zip = new PizZip(bytes);
    if (!zip.file('word/document.xml')) throw new Error('it has no word/document.xml');
    return zip;
  } catch (err) {
    throw new DossierError('TEMPLATE_CORRUPT', `${name} is not a readable .docx file: ${(err as Error).message}.`, {
      hint: 'Open it in Word and save it again as .docx (Word Document), then retry.',
    });
  }
}

interface DocxtemplaterError { properties?: { id?: string; explanation?: string; xtag?: string; file?: string; errors?: DocxtemplaterError[] }; message?: string }

/** docxtemplater's errors (unclosed tags, unbalanced loops…) as one list of readable lines. */
export function templateErrors(err: unknown): string[] {
  const e = err as DocxtemplaterError;
  const list = e.properties?.errors?.length ? e.properties.errors : [e];
  return list.map((x) => {
    const p = x.properties ?? {};
    return `${p.file ?? 'word/document.xml'}: ${p.explanation ?? x.message ?? String(x)}${p.xtag ? ` (tag "${p.xtag}")` : ''}`;
  });
}

/** Compiles a template with the Dossier tag language; values come from `data` at render time. */
export function compileDocx(bytes: Buffer, name: string, data: () => RenderData, sink: { missing: Set<string>; problems: Set<string> }): Docxtemplater {
  const zip = openDocx(bytes, name);
  try {
    return new Docxtemplater(zip, {
      paragraphLoop: true,
      linebreaks: true,
      errorLogging: false,
      parser(tagText: string) {
        let tag: ReturnType<typeof parseTag> | null = null;
        let syntax: string | null = null;
        try {
          tag = parseTag(tagText);
        } catch (err) {
          syntax = (err as Error).message;
        }
        return {
          get(_scope: unknown, context: Docxtemplater.DXT.ParserContext) {
            const section = context.meta.part.module === 'loop';
            if (!tag) {
              sink.problems.add(`tag {${tagText}}: ${syntax}`);
              return section ? false : '';
            }
            const rows = context.scopeList.filter((s: unknown): s is Row => typeof s === 'object' && s !== null && ROW in s);
            const inner = rows[rows.length - 1];
            const loop: LoopScope | undefined = inner ? { row: inner, columns: inner[ROW]! } : undefined;
            let r;
            try {
              r = evaluateTag(tag, data(), loop, { section });
            } catch (err) {
              sink.problems.add(`tag {${tagText}}: ${(err as Error).message}`);
              return section ? false : '';
            }
            if (r.kind === 'unknown') {
              sink.problems.add(`tag {${tagText}}: ${r.problem}`);
              return section ? false : '';
            }
            if (r.kind === 'missing') return section ? false : undefined;
            if (section && Array.isArray(r.value)) {
              const def = data().fields.get(tag.name) as FieldDef | undefined;
              const columns = new Map((def?.columns ?? []).map((c) => [c.id, c]));
              return (r.value as Record<string, unknown>[]).map((row) => Object.assign(Object.create(null), row, { [ROW]: columns }));
            }
            return r.value;
          },
        };
      },
      nullGetter(part: Docxtemplater.DXT.Part) {
        if (part.module === 'loop') return false;
        sink.missing.add(`{${part.value}}`);
        return '';
      },
    });
  } catch (err) {
    throw new DossierError('TEMPLATE_INVALID', `${name} has template errors:\n  - ${templateErrors(err).join('\n  - ')}`, {
      hint: 'Fix the tags in Word (each {…} must be closed; each {#x} needs its {/x}) and try again.',
    });
  }
}

const CONTROL_PARTS = /^word\/(document|header\d*|footer\d*)\.xml$/;

/** Checkbox content controls tagged dossier:<field>[=<option>]: set checked and the matching glyph. */
function setCheckboxes(zip: PizZip, data: RenderData, problems: Set<string>): void {
  for (const file of Object.keys(zip.files).filter((f) => CONTROL_PARTS.test(f))) {
    // Looked at as bytes and decoded by Node: docxtemplater leaves the filled part as UTF-8 bytes,
    // and PizZip's own decoder (asText) took a tenth of a questionnaire's render.
    const raw = zip.file(file)!.asUint8Array();
    const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (bytes.indexOf('dossier:') < 0) continue;
    const xml = bytes.toString('utf8');
    const out = patchCheckboxControls(xml, (sdt, doc) => setCheckbox(sdt, doc, data, problems), (x) => checkboxKey(x, data));
    if (out !== xml) zip.file(file, Buffer.from(out, 'utf8'));
  }
}

/**
 * What a checkbox control comes out as depends only on its XML and whether it is ticked: the key of
 * its patched XML, or null (not memoised) when the control names no field of the schema (reported).
 */
function checkboxKey(sdtXml: string, data: RenderData): string | null {
  const pr = sdtXml.slice(0, sdtXml.indexOf('</w:sdtPr>') >>> 0);
  const m = /<w:tag\b[^>]*\bw:val="dossier:([^"]*)"/.exec(pr);
  if (!m) return null;
  const [name, option] = m[1]!.split('=').map((x) => x.trim());
  if (!data.fields.get(name ?? '')) return null;
  return `${isTicked(data.values[name!] ?? null, option) ? 1 : 0}${sdtXml}`;
}

/**
 * Patched controls by key (see checkboxKey): a deal's packages fill the same questionnaire for every
 * bank, and parsing each control anew was most of the checkbox work. Bounded: emptied when full.
 */
const patchedControls = new Map<string, string | null>();
const MAX_PATCHED = 4000;

/**
 * Runs `patch` on each <w:sdt> that carries a dossier: tag, parsed on its own. Parsing and writing
 * back a whole questionnaire (hundreds of KB of XML) to touch a few dozen boxes took most of a
 * render; the controls are small, so each is cut out, parsed with the document's namespace
 * declarations, patched and spliced back. Returns the XML unchanged when nothing was patched.
 */
export function patchCheckboxControls(xml: string, patch: (sdt: Element, doc: ReturnType<DOMParser['parseFromString']>) => boolean, memoKey?: (sdtXml: string) => string | null): string {
  const rootStart = xml.indexOf('<w:document') >= 0 ? xml.indexOf('<w:document') : xml.search(/<w:(hdr|ftr)\b/);
  const rootTag = rootStart >= 0 ? xml.slice(rootStart, xml.indexOf('>', rootStart)) : '';
  const namespaces = [...rootTag.matchAll(/\sxmlns(:[\w.-]+)?="[^"]*"/g)].map((m) => m[0]).join('');
  const pieces: string[] = [];
  let from = 0;
  let at = 0;
  for (;;) {
    const tag = xml.indexOf('dossier:', at);
    if (tag < 0) break;
    // The innermost <w:sdt> around the tag: the nearest opening before it (not <w:sdtPr> etc.).
    let open = tag;
    do open = xml.lastIndexOf('<w:sdt', open - 1);
    while (open >= 0 && !/^<w:sdt[\s>]/.test(xml.slice(open, open + 8)));
    const close = open >= from ? matchingClose(xml, open) : -1;
    if (open < from || close < 0 || close < tag) {
      at = tag + 8; // a dossier: text elsewhere (a body text, a tag outside a control)
      continue;
    }
    const end = close + '</w:sdt>'.length;
    const sdtXml = xml.slice(open, end);
    // The document's namespace declarations decide what serialising drops: part of the key.
    const own = memoKey?.(sdtXml) ?? null;
    const key = own === null ? null : `${namespaces}\u0000${own}`;
    const known = key === null ? undefined : patchedControls.get(key);
    let patched: string | null;
    if (known !== undefined) patched = known;
    else {
      const doc = new DOMParser().parseFromString(`<dossier-fragment${namespaces}>${sdtXml}</dossier-fragment>`, 'text/xml');
      const sdt = doc.documentElement!.firstChild as Element;
      patched = patch(sdt, doc) ? new XMLSerializer().serializeToString(sdt).replace(/\sxmlns(:[\w.-]+)?="[^"]*"/g, (decl) => (namespaces.includes(decl) ? '' : decl)) : null;
      if (key !== null) {
        if (patchedControls.size >= MAX_PATCHED) patchedControls.clear();
        patchedControls.set(key, patched);
      }
    }
    if (patched !== null) {
      pieces.push(xml.slice(from, open), patched);
      from = end;
    }
    at = end;
  }
  if (!pieces.length) return xml;
  pieces.push(xml.slice(from));
  return pieces.join('');
}

/** Index of the </w:sdt> closing the <w:sdt> at `open` (controls nest), or -1. */
function matchingClose(xml: string, open: number): number {
  const re = /<w:sdt[\s>]|<\/w:sdt>/g;
  re.lastIndex = open + 1;
  let depth = 1;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    depth += m[0] === '</w:sdt>' ? -1 : 1;
    if (depth === 0) return m.index;
  }
  return -1;
}

function setCheckbox(sdt: Element, doc: ReturnType<DOMParser['parseFromString']>, data: RenderData, problems: Set<string>): boolean {
  const pr = sdt.getElementsByTagNameNS(W, 'sdtPr').item(0);
  const tagEl = pr?.getElementsByTagNameNS(W, 'tag').item(0);
  const box = pr?.getElementsByTagNameNS(W14, 'checkbox').item(0);
  const expr = tagEl?.getAttributeNS(W, 'val') ?? tagEl?.getAttribute('w:val') ?? '';
  if (!box || !expr.startsWith('dossier:')) return false;
  const [name, option] = expr.slice('dossier:'.length).split('=').map((s) => s.trim());
  const def = data.fields.get(name ?? '');
  if (!def) {
    problems.add(`checkbox dossier:${expr.slice(8)}: "${name}" is not a field of this record's schema version`);
    return false;
  }
  const value = data.values[name!] ?? null;
  const checked = isTicked(value, option);
  const state = (tag: string) => (box.getElementsByTagNameNS(W14, tag).item(0) as Element | null)?.getAttributeNS(W14, 'val');
  const glyph = String.fromCodePoint(Number.parseInt((checked ? state('checkedState') : state('uncheckedState')) ?? (checked ? '2612' : '2610'), 16));
  let checkedEl = box.getElementsByTagNameNS(W14, 'checked').item(0);
  if (!checkedEl) {
    checkedEl = doc.createElementNS(W14, 'w14:checked');
    box.insertBefore(checkedEl, box.firstChild);
  }
  checkedEl.setAttributeNS(W14, 'w14:val', checked ? '1' : '0');
  // The glyph goes in this control's own content, not in a control nested inside it.
  const content = [...childElements(sdt)].find((e) => e.localName === 'sdtContent' && e.namespaceURI === W);
  const texts = content?.getElementsByTagNameNS(W, 't');
  if (texts && texts.length) {
    texts.item(0)!.textContent = glyph;
    for (let k = 1; k < texts.length; k++) texts.item(k)!.textContent = '';
  }
  return true;
}

function* childElements(el: Element): Generator<Element> {
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) yield n as Element;
}

/**
 * Templates compiled once and rendered many times. docxtemplater spends about as long compiling a
 * large template as rendering it, and a package batch renders the same questionnaire for every
 * bank. A compiled instance is rendered again by resetting its single-use flag: render() writes
 * each templated part from the compiled (unchanged) parse tree over the previous output in its
 * zip, so every render starts from the template, not from the last result. Renders are
 * synchronous, so two never interleave on one instance. Keyed by the template's bytes (a hash),
 * so an edited template on disk is compiled afresh.
 */
interface Compiled { doc: Docxtemplater & { rendered: boolean; errors: unknown[] }; state: { data: RenderData | null; sink: { missing: Set<string>; problems: Set<string> } } }
const compiledCache = new Map<string, Compiled>();
const MAX_COMPILED = 32;

function compiledFor(bytes: Buffer, name: string): Compiled {
  const key = createHash('sha1').update(bytes).digest('hex');
  const hit = compiledCache.get(key);
  if (hit) {
    compiledCache.delete(key); // most recently used last
    compiledCache.set(key, hit);
    return hit;
  }
  const state: Compiled['state'] = { data: null, sink: { missing: new Set(), problems: new Set() } };
  const doc = compileDocx(bytes, name, () => state.data!, {
    get missing() {
      return state.sink.missing;
    },
    get problems() {
      return state.sink.problems;
    },
  }) as Compiled['doc'];
  const compiled = { doc, state };
  if (compiledCache.size >= MAX_COMPILED) compiledCache.delete(compiledCache.keys().next().value!);
  compiledCache.set(key, compiled);
  return compiled;
}

/** Fills a template (compiled once per distinct template); every missing value and every problem is reported together. */
export function renderDocx(bytes: Buffer, name: string, data: RenderData, wordFields: Record<string, string> = {}): Buffer {
  const sink = { missing: new Set<string>(), problems: new Set<string>() };
  const { doc, state } = compiledFor(bytes, name);
  state.data = data;
  state.sink = sink;
  doc.rendered = false;
  try {
    doc.render({});
  } catch (err) {
    throw new DossierError('TEMPLATE_INVALID', `${name} could not be filled:\n  - ${templateErrors(err).join('\n  - ')}`, { hint: 'Run `dossier template check` for the details.' });
  } finally {
    state.data = null;
  }
  const zip = doc.getZip();
  setCheckboxes(zip, data, sink.problems);
  if (Object.keys(wordFields).length) fillLegacyFields(zip, wordFields, data, (template, where) => textWithTags(template, data, where, sink), sink.problems);
  if (sink.problems.size) {
    throw new DossierError('TEMPLATE_INVALID', `${name} does not fit this record:\n  - ${[...sink.problems].join('\n  - ')}`, { hint: 'Run `dossier template check` to lint the template against its schema versions.' });
  }
  if (sink.missing.size) {
    throw new DossierError('RENDER_MISSING_VALUES', `${name} needs values the record does not have: ${[...sink.missing].map((m) => labelOf(m, data)).join(', ')}.`, {
      hint: 'Set them with `dossier field set`, or give optional ones a default in the template ({field | default:""}).',
      details: { missing: [...sink.missing] },
    });
  }
  return zip.generate({ type: 'nodebuffer', compression: NODE_DEFLATE as 'DEFLATE' });
}

/** A text with {tags} (a word_fields mapping); null when a tag has no value (noted as missing). */
function textWithTags(template: string, data: RenderData, where: string, sink: { missing: Set<string>; problems: Set<string> }): string | null {
  let parts;
  try {
    parts = splitTemplateString(template);
  } catch (err) {
    sink.problems.add(`${where}: ${(err as Error).message}`);
    return null;
  }
  let out = '';
  for (const p of parts) {
    if ('text' in p) out += p.text;
    else {
      const r = evaluateTag(p.tag, data);
      if (r.kind === 'unknown') sink.problems.add(`${where}: {${p.tag.raw}}: ${r.problem}`);
      else if (r.kind === 'missing') {
        sink.missing.add(`{${p.tag.raw}}`);
        return null;
      } else out += String(r.value);
    }
  }
  return out;
}

/** "{borrower_inn}" as staff know it: «ИНН заёмщика» {borrower_inn}. */
export function labelOf(tag: string, data: RenderData): string {
  const id = /^\{\s*([\w$]+)/.exec(tag)?.[1] ?? tag;
  const def = data.fields.get(id);
  return def ? `«${def.label.ru}» ${tag}` : tag;
}
