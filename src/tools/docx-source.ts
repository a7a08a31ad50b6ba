import PizZip from 'pizzip';

// Builds a .docx from a plain-text source, so that templates can be reviewed as text and rebuilt.
// The source format (templates/README.md has the whole of it):
//   # Heading / ## Subheading           headings
//   plain lines                          paragraphs (consecutive lines are separate paragraphs)
//   **bold** inside a line               bold run
//   | a | b |  … with a |---| line       a table; the row above |---| is the header (repeated on each page)
//   [[box EXPR]]                         a Word checkbox content control bound to EXPR (field or field=value)
//   ---page---                           page break
//   > text                               small grey note
//   <blank line>                         an empty paragraph (spacing)
// Docxtemplater tags ({field}, {#…}{/…}) are written through untouched.

const NS =
  'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="w14"';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function checkboxXml(expr: string, checked = false): string {
  return (
    `<w:sdt><w:sdtPr><w:tag w:val="dossier:${esc(expr)}"/><w14:checkbox><w14:checked w14:val="${checked ? 1 : 0}"/>` +
    `<w14:checkedState w14:val="2612" w14:font="MS Gothic"/><w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox></w:sdtPr>` +
    `<w:sdtContent><w:r><w:rPr><w:rFonts w:ascii="MS Gothic" w:eastAsia="MS Gothic" w:hAnsi="MS Gothic"/></w:rPr><w:t>${checked ? '☒' : '☐'}</w:t></w:r></w:sdtContent></w:sdt>`
  );
}

/** Runs of one line: text, **bold** and [[box …]] checkboxes. */
function runs(line: string, rPr = ''): string {
  const out: string[] = [];
  const re = /\*\*(.+?)\*\*|\[\[box ([^\]]+)\]\]/g;
  let last = 0;
  const text = (t: string, extra = '') => (t ? `<w:r>${rPr || extra ? `<w:rPr>${extra}${rPr}</w:rPr>` : ''}<w:t xml:space="preserve">${esc(t)}</w:t></w:r>` : '');
  for (let m = re.exec(line); m; m = re.exec(line)) {
    out.push(text(line.slice(last, m.index)));
    if (m[1] !== undefined) out.push(text(m[1], '<w:b/>'));
    else out.push(checkboxXml(m[2]!.trim()));
    last = m.index + m[0].length;
  }
  out.push(text(line.slice(last)));
  return out.join('');
}

const para = (content: string, pPr = '') => `<w:p>${pPr ? `<w:pPr>${pPr}</w:pPr>` : ''}${content}</w:p>`;

function table(lines: string[]): string {
  // Split on | outside {…}: a tag's filters use | too ({amount | money}).
  const cells = (l: string) => {
    const out: string[] = [];
    let depth = 0;
    let cur = '';
    for (const ch of l.trim().replace(/^\||\|$/g, '')) {
      if (ch === '{') depth++;
      if (ch === '}') depth = Math.max(0, depth - 1);
      if (ch === '|' && depth === 0) {
        out.push(cur.trim());
        cur = '';
      } else cur += ch;
    }
    out.push(cur.trim());
    return out;
  };
  const headerAt = lines.findIndex((l) => /^\|\s*-{3,}/.test(l.trim()));
  const rows = lines.filter((l) => !/^\|\s*-{3,}/.test(l.trim())).map(cells);
  const cols = Math.max(...rows.map((r) => r.length));
  const width = Math.floor(9600 / cols);
  const border = (s: string) => `<w:${s} w:val="single" w:sz="4" w:space="0" w:color="808080"/>`;
  const xml = rows.map((r, i) => {
    const header = headerAt > 0 && i < headerAt;
    const tc = Array.from({ length: cols }, (_, j) => `<w:tc><w:tcPr><w:tcW w:w="${width}" w:type="dxa"/>${header ? '<w:shd w:val="clear" w:color="auto" w:fill="E7E6E6"/>' : ''}</w:tcPr>${para(runs(r[j] ?? '', header ? '<w:b/>' : ''), '<w:spacing w:before="0" w:after="0"/>')}</w:tc>`).join('');
    return `<w:tr>${header ? '<w:trPr><w:tblHeader/></w:trPr>' : ''}${tc}</w:tr>`;
  });
  return `<w:tbl><w:tblPr><w:tblW w:w="5000" w:type="pct"/><w:tblBorders>${['top', 'left', 'bottom', 'right', 'insideH', 'insideV'].map(border).join('')}</w:tblBorders><w:tblCellMar><w:left w:w="80" w:type="dxa"/><w:right w:w="80" w:type="dxa"/></w:tblCellMar></w:tblPr><w:tblGrid>${Array.from({ length: cols }, () => `<w:gridCol w:w="${width}"/>`).join('')}</w:tblGrid>${xml.join('')}</w:tbl>`;
}

export function sourceToDocumentXml(source: string): string {
  const body: string[] = [];
  const lines = source.replace(/\r\n/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('|')) {
      const block: string[] = [];
      while (i < lines.length && lines[i]!.startsWith('|')) block.push(lines[i++]!);
      i--;
      body.push(table(block));
      // Word needs a paragraph between two tables and after a table at the end of a cell/body.
      body.push(para('', '<w:spacing w:before="0" w:after="0"/>'));
    } else if (line.startsWith('## ')) body.push(para(runs(line.slice(3)), '<w:pStyle w:val="Heading2"/>'));
    else if (line.startsWith('# ')) body.push(para(runs(line.slice(2)), '<w:pStyle w:val="Heading1"/>'));
    else if (line.startsWith('> ')) body.push(para(runs(line.slice(2), '<w:color w:val="666666"/><w:sz w:val="18"/>')));
    else if (line.trim() === '---page---') body.push(para('<w:r><w:br w:type="page"/></w:r>'));
    else body.push(para(runs(line)));
  }
  const sect = '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1134" w:right="850" w:bottom="1134" w:left="1418" w:header="709" w:footer="709" w:gutter="0"/></w:sectPr>';
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document ${NS}><w:body>${body.join('')}${sect}</w:body></w:document>`;
}

const STYLES = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" w:eastAsia="Times New Roman" w:cs="Times New Roman"/><w:sz w:val="22"/><w:szCs w:val="22"/><w:lang w:val="ru-RU"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="60" w:line="264" w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults>
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/></w:style>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="240" w:after="120"/><w:jc w:val="center"/><w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/><w:sz w:val="28"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="200" w:after="80"/><w:outlineLvl w:val="1"/></w:pPr><w:rPr><w:b/><w:sz w:val="24"/></w:rPr></w:style>
<w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/><w:tblPr><w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/><w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>
</w:styles>`;

export function buildDocx(source: string, meta: { title: string }): Buffer {
  const zip = new PizZip();
  // A fixed date keeps rebuilt templates byte-identical when their source did not change.
  const date = new Date(Date.UTC(2026, 0, 1));
  const file = (name: string, data: string) => zip.file(name, data, { date });
  file(
    '[Content_Types].xml',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>',
  );
  file('_rels/.rels', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>');
  file('word/_rels/document.xml.rels', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>');
  file('word/styles.xml', STYLES);
  file('word/document.xml', sourceToDocumentXml(source));
  file(
    'docProps/core.xml',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>${esc(meta.title)}</dc:title><dc:creator>Dossier</dc:creator></cp:coreProperties>`,
  );
  return zip.generate({ type: 'nodebuffer', compression: 'DEFLATE' });
}
