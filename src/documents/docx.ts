import { DOMParser, XMLSerializer, type Element } from '@xmldom/xmldom';
import Docxtemplater from 'docxtemplater';
import PizZip from 'pizzip';
import { DossierError } from '../errors.js';
import type { ColumnDef, FieldDef } from '../schemas/types.js';
import { evaluateTag, type LoopScope, type RenderData } from './evaluate.js';
import { parseTag } from './tags.js';

// DOCX templates with docxtemplater: fields, loops over table rows and paragraphs, conditions that
// remove their whole paragraph or row (paragraphLoop), ticks as glyphs (the tick filter) and as real
// Word checkbox content controls (tagged dossier:<field> or dossier:<field>=<option>).

const W14 = 'http://schemas.microsoft.com/office/word/2010/wordml';
const W = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';
const ROW = Symbol('row columns');
type Row = Record<string, unknown> & { [ROW]?: Map<string, ColumnDef> };

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
    const xml = zip.file(file)!.asText();
    if (!xml.includes('dossier:')) continue;
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    let changed = false;
    const sdts = doc.getElementsByTagNameNS(W, 'sdt');
    for (let i = 0; i < sdts.length; i++) {
      const sdt = sdts.item(i)!;
      const pr = sdt.getElementsByTagNameNS(W, 'sdtPr').item(0);
      const tagEl = pr?.getElementsByTagNameNS(W, 'tag').item(0);
      const box = pr?.getElementsByTagNameNS(W14, 'checkbox').item(0);
      const expr = tagEl?.getAttributeNS(W, 'val') ?? tagEl?.getAttribute('w:val') ?? '';
      if (!box || !expr.startsWith('dossier:')) continue;
      const [name, option] = expr.slice('dossier:'.length).split('=').map((s) => s.trim());
      const def = data.fields.get(name ?? '');
      if (!def) {
        problems.add(`checkbox dossier:${expr.slice(8)}: "${name}" is not a field of this record's schema version`);
        continue;
      }
      const value = data.values[name!] ?? null;
      const checked = option !== undefined ? value === option : value === true;
      const state = (tag: string) => (box.getElementsByTagNameNS(W14, tag).item(0) as Element | null)?.getAttributeNS(W14, 'val');
      const glyph = String.fromCodePoint(Number.parseInt((checked ? state('checkedState') : state('uncheckedState')) ?? (checked ? '2612' : '2610'), 16));
      let checkedEl = box.getElementsByTagNameNS(W14, 'checked').item(0);
      if (!checkedEl) {
        checkedEl = doc.createElementNS(W14, 'w14:checked');
        box.insertBefore(checkedEl, box.firstChild);
      }
      checkedEl.setAttributeNS(W14, 'w14:val', checked ? '1' : '0');
      const content = sdt.getElementsByTagNameNS(W, 'sdtContent').item(0);
      const texts = content?.getElementsByTagNameNS(W, 't');
      if (texts && texts.length) {
        texts.item(0)!.textContent = glyph;
        for (let k = 1; k < texts.length; k++) texts.item(k)!.textContent = '';
      }
      changed = true;
    }
    if (changed) zip.file(file, new XMLSerializer().serializeToString(doc));
  }
}

/** Fills a compiled template; every missing value and every problem is reported together. */
export function renderDocx(bytes: Buffer, name: string, data: RenderData): Buffer {
  const sink = { missing: new Set<string>(), problems: new Set<string>() };
  const doc = compileDocx(bytes, name, () => data, sink);
  try {
    doc.render({});
  } catch (err) {
    throw new DossierError('TEMPLATE_INVALID', `${name} could not be filled:\n  - ${templateErrors(err).join('\n  - ')}`, { hint: 'Run `dossier template check` for the details.' });
  }
  const zip = doc.getZip();
  setCheckboxes(zip, data, sink.problems);
  if (sink.problems.size) {
    throw new DossierError('TEMPLATE_INVALID', `${name} does not fit this record:\n  - ${[...sink.problems].join('\n  - ')}`, { hint: 'Run `dossier template check` to lint the template against its schema versions.' });
  }
  if (sink.missing.size) {
    throw new DossierError('RENDER_MISSING_VALUES', `${name} needs values the record does not have: ${[...sink.missing].join(', ')}.`, {
      hint: 'Set them with `dossier field set`, or give optional ones a default in the template ({field | default:""}).',
      details: { missing: [...sink.missing] },
    });
  }
  return zip.generate({ type: 'nodebuffer', compression: 'DEFLATE' });
}
