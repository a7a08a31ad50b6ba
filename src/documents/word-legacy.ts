import type PizZip from 'pizzip';
import type { RenderData } from './evaluate.js';
import { isTicked } from './ticks.js';

// Word's legacy form fields (FORMCHECKBOX, FORMTEXT, FORMDROPDOWN): the checkboxes and blanks of
// questionnaires made in older Word, still what many banks send. Each is a field whose settings
// live in <w:ffData> inside its begin <w:fldChar>; its shown result lies between the "separate"
// and "end" field characters. Word names them (Check1, Text3…), so the template's sidecar maps
// names to fields: `word_fields: { Check1: married, Check2: "kind=old", Text1: "{borrower_last_name}" }`
// — a checkbox gets a field (and an option), a text or a dropdown a text with {tags}. A field
// without a name (LibreOffice writes its checkboxes nameless) is mapped by its number in the
// document, "#2", as `dossier template fields` lists them.

const PARTS = /^word\/(document|header\d*|footer\d*)\.xml$/;

export interface LegacyField { number: number; name: string; kind: 'checkbox' | 'text' | 'dropdown'; entries: string[]; maxLength: number | null }

/** The document body first, then headers and footers: the order fields are numbered in. */
const partsInOrder = (zip: PizZip) => Object.keys(zip.files).filter((f) => PARTS.test(f)).sort((a, b) => Number(!a.endsWith('document.xml')) - Number(!b.endsWith('document.xml')) || a.localeCompare(b));

/** A field's own name, unless it is one LibreOffice generated (__Fieldmark__…), which changes on every save. */
const ownName = (name: string) => (name && !name.startsWith('__Fieldmark') ? name : '');

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const unescapeXml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Every legacy form field of a document part, in order, with where its pieces are. */
function* fieldsOf(xml: string, first = 1): Generator<LegacyField & { ffStart: number; ffEnd: number; ff: string }> {
  let number = first;
  for (const m of xml.matchAll(/<w:ffData>([\s\S]*?)<\/w:ffData>/g)) {
    const ff = m[1]!;
    const name = unescapeXml(/<w:name w:val="([^"]*)"/.exec(ff)?.[1] ?? '');
    const kind = ff.includes('<w:checkBox') ? 'checkbox' : ff.includes('<w:ddList') ? 'dropdown' : 'text';
    const entries = [...ff.matchAll(/<w:listEntry w:val="([^"]*)"/g)].map((e) => unescapeXml(e[1]!));
    const max = /<w:maxLength w:val="(\d+)"/.exec(ff)?.[1];
    yield { number: number++, name, kind, entries, maxLength: max ? Number(max) : null, ffStart: m.index, ffEnd: m.index + m[0].length, ff };
  }
}

/** The legacy form fields of a .docx (for `template fields` and lint). */
export function legacyFields(zip: PizZip): LegacyField[] {
  const out: LegacyField[] = [];
  for (const file of partsInOrder(zip)) {
    const xml = zip.file(file)!.asText();
    if (xml.includes('<w:ffData>')) for (const { number, name, kind, entries, maxLength } of fieldsOf(xml, out.length + 1)) out.push({ number, name, kind, entries, maxLength });
  }
  return out;
}

/** Replaces the shown result of the field whose begin is before `from`: the runs between separate and end. */
function setResult(xml: string, from: number, text: string): string {
  const sep = xml.indexOf('w:fldCharType="separate"', from);
  const end = xml.indexOf('w:fldCharType="end"', from);
  if (sep < 0 || end < 0 || sep > end) return xml;
  const afterSepRun = xml.indexOf('</w:r>', sep) + '</w:r>'.length;
  const endRun = xml.lastIndexOf('<w:r>', end) >= 0 ? Math.max(xml.lastIndexOf('<w:r>', end), xml.lastIndexOf('<w:r ', end)) : end;
  const between = xml.slice(afterSepRun, endRun);
  // Keep the formatting of the first result run, if there is one.
  const rPr = /<w:rPr>[\s\S]*?<\/w:rPr>/.exec(between)?.[0] ?? '';
  const run = text ? `<w:r>${rPr}<w:t xml:space="preserve">${escapeXml(text)}</w:t></w:r>` : '';
  // Bookmarks between separate and end (LibreOffice writes them) are kept.
  const keep = (between.match(/<w:bookmark(Start|End)[^>]*\/>/g) ?? []).join('');
  return xml.slice(0, afterSepRun) + keep + run + xml.slice(endRun);
}

/** Ticks and fills the legacy form fields the sidecar maps; every problem is added to `problems`. */
export function fillLegacyFields(zip: PizZip, map: Record<string, string>, data: RenderData, text: (template: string, where: string) => string | null, problems: Set<string>): void {
  const seen = new Set<string>();
  let count = 0;
  for (const file of partsInOrder(zip)) {
    let xml = zip.file(file)!.asText();
    if (!xml.includes('<w:ffData>')) continue;
    const fields = [...fieldsOf(xml, count + 1)];
    count += fields.length;
    // From the last field back, so that earlier positions stay valid while we edit.
    for (const f of fields.reverse()) {
      const key = ownName(f.name) && map[f.name] !== undefined ? f.name : `#${f.number}`;
      const expr = map[key];
      if (expr === undefined) continue;
      seen.add(key);
      const where = `Word form field "${ownName(f.name) || '#' + f.number}"`;
      if (f.kind === 'checkbox') {
        const [id, option] = expr.split('=').map((s) => s.trim());
        if (!data.fields.has(id ?? '')) {
          problems.add(`${where}: "${id}" is not a field of this record's schema version`);
          continue;
        }
        const on = isTicked(data.values[id!] ?? null, option);
        const ff = f.ff.replace(/<w:checked(?: w:val="[^"]*")?\s*\/>|<w:checked(?: w:val="[^"]*")?><\/w:checked>/g, '').replace(/<\/w:checkBox>/, `<w:checked w:val="${on ? 1 : 0}"/></w:checkBox>`);
        xml = xml.slice(0, f.ffStart) + `<w:ffData>${ff}</w:ffData>` + xml.slice(f.ffEnd);
      } else {
        const value = text(expr, where);
        if (value === null) continue;
        if (f.kind === 'dropdown') {
          const i = f.entries.indexOf(value);
          if (i < 0) {
            problems.add(`${where}: "${value}" is not one of its entries (${f.entries.join(', ')})`);
            continue;
          }
          const ff = /<w:result w:val="\d+"\s*\/>/.test(f.ff) ? f.ff.replace(/<w:result w:val="\d+"\s*\/>/, `<w:result w:val="${i}"/>`) : f.ff.replace('<w:ddList>', `<w:ddList><w:result w:val="${i}"/>`);
          xml = setResult(xml.slice(0, f.ffStart) + `<w:ffData>${ff}</w:ffData>` + xml.slice(f.ffEnd), f.ffStart, value);
        } else {
          if (f.maxLength !== null && f.maxLength > 0 && [...value].length > f.maxLength) {
            problems.add(`${where} takes at most ${f.maxLength} characters; «${value}» has ${[...value].length}`);
            continue;
          }
          xml = setResult(xml, f.ffStart, value);
        }
      }
    }
    zip.file(file, xml);
  }
  for (const name of Object.keys(map)) if (!seen.has(name)) problems.add(`Word form field "${name}" (in word_fields) is not in the document (${count} legacy form field(s); \`dossier template fields\` lists them)`);
}
