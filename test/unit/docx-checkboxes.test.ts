import { DOMParser } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { patchCheckboxControls } from '../../src/documents/docx.js';

// Checkbox content controls are patched one control at a time (not the whole document): what is
// outside the controls must come back byte for byte, and the document must still be valid XML.

const NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"';
const box = (tag: string, glyph = '☐') =>
  `<w:sdt><w:sdtPr><w:tag w:val="${tag}"/><w14:checkbox><w14:checked w14:val="0"/><w14:checkedState w14:val="2612"/><w14:uncheckedState w14:val="2610"/></w14:checkbox></w:sdtPr><w:sdtContent><w:r><w:t>${glyph}</w:t></w:r></w:sdtContent></w:sdt>`;

describe('patchCheckboxControls', () => {
  it('patches each tagged control, including one inside a group control, and leaves the rest as it was', () => {
    const before = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ${NS} mc:Ignorable="w14"><w:body>`;
    const text = '<w:p><w:r><w:t>Поле dossier:не тег, просто текст</w:t></w:r></w:p>';
    const group = `<w:sdt><w:sdtPr><w:group/></w:sdtPr><w:sdtContent><w:p>${box('dossier:has_car')}</w:p></w:sdtContent></w:sdt>`;
    const after = '</w:body></w:document>';
    const xml = before + text + `<w:p>${box('dossier:married')}</w:p>` + group + after;
    const seen: string[] = [];
    const out = patchCheckboxControls(xml, (sdt) => {
      const tag = sdt.getElementsByTagName('w:tag').item(0)!.getAttribute('w:val')!;
      seen.push(tag);
      sdt.getElementsByTagName('w14:checked').item(0)!.setAttribute('w14:val', '1');
      sdt.getElementsByTagName('w:t').item(0)!.textContent = '☒';
      return true;
    });
    expect(seen).toEqual(['dossier:married', 'dossier:has_car']);
    expect(out.startsWith(before + text)).toBe(true);
    expect(out.endsWith(after)).toBe(true);
    expect(out.match(/xmlns:w=/g)).toHaveLength(1); // the namespaces stay declared once, on the root
    expect(out.match(/w14:checked w14:val="1"/g)).toHaveLength(2);
    expect(out.match(/☒/g)).toHaveLength(2);
    const doc = new DOMParser().parseFromString(out, 'text/xml');
    expect(doc.getElementsByTagName('w:sdt').length).toBe(3);
  });

  it('returns the very same string when no control is patched', () => {
    const xml = `<w:document ${NS}><w:body>${box('other:tag')}<w:p><w:r><w:t>dossier:</w:t></w:r></w:p></w:body></w:document>`;
    expect(patchCheckboxControls(xml, () => false)).toBe(xml);
  });
  it('gives a control seen before under the same key the same patched XML without parsing it again', () => {
    const xml = `<w:document ${NS}><w:body><w:p>${box('dossier:memo_test')}</w:p></w:body></w:document>`;
    let parsed = 0;
    const tick = (glyph: string) => (sdt: Parameters<Parameters<typeof patchCheckboxControls>[1]>[0]) => {
      parsed++;
      sdt.getElementsByTagName('w:t').item(0)!.textContent = glyph;
      return true;
    };
    const first = patchCheckboxControls(xml, tick('☒'), () => 'ticked');
    const again = patchCheckboxControls(xml, tick('☒'), () => 'ticked');
    expect(again).toBe(first);
    expect(parsed).toBe(1);
    // Another key (the box no longer ticked) is patched afresh.
    const other = patchCheckboxControls(xml, tick('☐'), () => 'unticked');
    expect(parsed).toBe(2);
    expect(other).not.toBe(first);
    expect(other).toContain('☐');
  });
});
