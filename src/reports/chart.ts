import PizZip from 'pizzip';
import { DossierError } from '../errors.js';

// Bar charts added to an .xlsx after exceljs wrote it: exceljs reads and writes cells, styles and
// images but not charts, so the chart parts are written here as OOXML (DrawingML) by hand:
//   xl/charts/chartN.xml          the chart: series whose categories and values are cell ranges
//   xl/drawings/drawingN.xml      where on the sheet it sits (a two-cell anchor), pointing at the chart
//   xl/drawings/_rels/drawingN.xml.rels, xl/worksheets/_rels/sheetK.xml.rels   the links
//   [Content_Types].xml           an Override for each new part
//   the sheet's <drawing r:id="…"/>
// The charts refer to the cells, so Excel and LibreOffice draw what the sheet holds; the cached
// values written beside the references are what viewers that do not calculate show.

/** A rectangle of cells on one sheet, 1-based, inclusive. */
export interface CellRange { sheet: string; col: number; row: number; toCol?: number; toRow?: number }

export interface ChartSeries {
  /** The series name: a literal, or the header cell it comes from. */
  name: string;
  nameCell?: CellRange;
  values: CellRange;
  /** The values as the sheet holds them now (the cache). */
  cache: (number | null)[];
}

export interface BarChartSpec {
  /** The sheet the chart is drawn on. */
  sheet: string;
  title: string;
  categories: CellRange;
  categoryCache: string[];
  series: ChartSeries[];
  /** Where it sits: top-left cell (0-based column and row) and its size in cells. */
  at: { col: number; row: number; cols: number; rows: number };
  /** Number format of the value axis, e.g. "0" or "0.0". */
  numFmt?: string;
}

const NS = {
  r: 'http://schemas.openxmlformats.org/officeDocument/2006/relationships',
  rel: 'http://schemas.openxmlformats.org/package/2006/relationships',
  c: 'http://schemas.openxmlformats.org/drawingml/2006/chart',
  a: 'http://schemas.openxmlformats.org/drawingml/2006/main',
  xdr: 'http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing',
};
const REL_DRAWING = `${NS.r}/drawing`;
const REL_CHART = `${NS.r}/chart`;
const CT_CHART = 'application/vnd.openxmlformats-officedocument.drawingml.chart+xml';
const CT_DRAWING = 'application/vnd.openxmlformats-officedocument.drawing+xml';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const unesc = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

export function columnLetters(col: number): string {
  let s = '';
  for (let n = col; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/** 'Sheet name'!$A$2:$A$8 — the sheet always quoted (a quote inside doubled), absolute references. */
export function rangeFormula(r: CellRange): string {
  const cell = (c: number, row: number) => `$${columnLetters(c)}$${row}`;
  const to = r.toCol !== undefined || r.toRow !== undefined ? `:${cell(r.toCol ?? r.col, r.toRow ?? r.row)}` : '';
  return `'${r.sheet.replace(/'/g, "''")}'!${cell(r.col, r.row)}${to}`;
}

function chartXml(spec: BarChartSpec): string {
  const strCache = (values: string[]) => `<c:strCache><c:ptCount val="${values.length}"/>${values.map((v, i) => `<c:pt idx="${i}"><c:v>${esc(v)}</c:v></c:pt>`).join('')}</c:strCache>`;
  const numCache = (values: (number | null)[]) =>
    `<c:numCache><c:formatCode>General</c:formatCode><c:ptCount val="${values.length}"/>${values.map((v, i) => (v === null ? '' : `<c:pt idx="${i}"><c:v>${v}</c:v></c:pt>`)).join('')}</c:numCache>`;
  const series = spec.series
    .map((s, i) => {
      const tx = s.nameCell ? `<c:tx><c:strRef><c:f>${esc(rangeFormula(s.nameCell))}</c:f>${strCache([s.name])}</c:strRef></c:tx>` : `<c:tx><c:v>${esc(s.name)}</c:v></c:tx>`;
      return (
        `<c:ser><c:idx val="${i}"/><c:order val="${i}"/>${tx}<c:invertIfNegative val="0"/>` +
        `<c:cat><c:strRef><c:f>${esc(rangeFormula(spec.categories))}</c:f>${strCache(spec.categoryCache)}</c:strRef></c:cat>` +
        `<c:val><c:numRef><c:f>${esc(rangeFormula(s.values))}</c:f>${numCache(s.cache)}</c:numRef></c:val></c:ser>`
      );
    })
    .join('');
  const fmt = esc(spec.numFmt ?? 'General');
  return (
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n` +
    `<c:chartSpace xmlns:c="${NS.c}" xmlns:a="${NS.a}" xmlns:r="${NS.r}"><c:roundedCorners val="0"/><c:chart>` +
    `<c:title><c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:r><a:t>${esc(spec.title)}</a:t></a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title>` +
    `<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>` +
    `<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/><c:varyColors val="0"/>${series}<c:gapWidth val="80"/><c:axId val="500000001"/><c:axId val="500000002"/></c:barChart>` +
    `<c:catAx><c:axId val="500000001"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/><c:axPos val="b"/><c:numFmt formatCode="General" sourceLinked="0"/>` +
    `<c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="500000002"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/></c:catAx>` +
    `<c:valAx><c:axId val="500000002"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/><c:axPos val="l"/><c:majorGridlines/>` +
    `<c:numFmt formatCode="${fmt}" sourceLinked="0"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="500000001"/><c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>` +
    `</c:plotArea><c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>`
  );
}

function anchorXml(spec: BarChartSpec, id: number, relId: string): string {
  const { col, row, cols, rows } = spec.at;
  const pos = (tag: string, c: number, r: number) => `<xdr:${tag}><xdr:col>${c}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>${r}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:${tag}>`;
  return (
    `<xdr:twoCellAnchor editAs="oneCell">${pos('from', col, row)}${pos('to', col + cols, row + rows)}` +
    `<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="${id + 1}" name="Chart ${id}" descr="${esc(spec.title)}"/><xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>` +
    `<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>` +
    `<a:graphic><a:graphicData uri="${NS.c}"><c:chart xmlns:c="${NS.c}" xmlns:r="${NS.r}" r:id="${relId}"/></a:graphicData></a:graphic>` +
    `</xdr:graphicFrame><xdr:clientData/></xdr:twoCellAnchor>`
  );
}

const relsXml = (rels: { id: string; type: string; target: string }[]) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="${NS.rel}">${rels.map((r) => `<Relationship Id="${r.id}" Type="${r.type}" Target="${esc(r.target)}"/>`).join('')}</Relationships>`;

function broken(what: string): DossierError {
  return new DossierError('INTERNAL', `Cannot add charts to the workbook: ${what}.`, { hint: 'This is a bug in the report writer (the workbook exceljs wrote has an unexpected layout); report it.' });
}

/** Which part holds the sheet with this name (e.g. "xl/worksheets/sheet2.xml"). */
function sheetPart(zip: PizZip, name: string): string {
  const workbook = zip.file('xl/workbook.xml')?.asText() ?? '';
  const rels = zip.file('xl/_rels/workbook.xml.rels')?.asText() ?? '';
  for (const m of workbook.matchAll(/<sheet\b([^>]*)\/?>/g)) {
    const attr = (n: string) => new RegExp(`\\b${n}="([^"]*)"`).exec(m[1]!)?.[1];
    if (unesc(attr('name') ?? '') !== name) continue;
    const rid = attr('r:id');
    for (const r of rels.matchAll(/<Relationship\b([^>]*)\/?>/g)) {
      if (new RegExp(`\\bId="${rid}"`).test(r[1]!)) {
        const target = /\bTarget="([^"]*)"/.exec(r[1]!)?.[1] ?? '';
        return target.startsWith('/') ? target.slice(1) : `xl/${target}`;
      }
    }
  }
  throw broken(`no sheet named "${name}"`);
}

const nextNumber = (zip: PizZip, folder: string, stem: string) =>
  Math.max(0, ...Object.keys(zip.files).map((f) => new RegExp(`^${folder}/${stem}(\\d+)\\.xml$`).exec(f)?.[1]).filter((x): x is string => Boolean(x)).map(Number)) + 1;

// Elements that CT_Worksheet allows after <drawing>: it must be written before the first of them.
const AFTER_DRAWING = ['legacyDrawing', 'legacyDrawingHF', 'drawingHF', 'picture', 'oleObjects', 'controls', 'webPublishItems', 'tableParts', 'extLst'];

/** The workbook with the charts added, one drawing per sheet holding that sheet's charts. */
export function addBarCharts(xlsx: Buffer, charts: BarChartSpec[]): Buffer {
  if (!charts.length) return xlsx;
  const zip = new PizZip(xlsx);
  let types = zip.file('[Content_Types].xml')?.asText();
  if (!types) throw broken('[Content_Types].xml is missing');
  const bySheet = new Map<string, BarChartSpec[]>();
  for (const c of charts) bySheet.set(c.sheet, [...(bySheet.get(c.sheet) ?? []), c]);

  for (const [sheet, specs] of bySheet) {
    const part = sheetPart(zip, sheet);
    let sheetXml = zip.file(part)!.asText();
    if (/<drawing\b/.test(sheetXml)) throw broken(`sheet "${sheet}" already has a drawing`);
    const drawingNo = nextNumber(zip, 'xl/drawings', 'drawing');
    const drawingRels: { id: string; type: string; target: string }[] = [];
    const anchors: string[] = [];
    for (const spec of specs) {
      const chartNo = nextNumber(zip, 'xl/charts', 'chart');
      zip.file(`xl/charts/chart${chartNo}.xml`, chartXml(spec));
      types = types.replace('</Types>', `<Override PartName="/xl/charts/chart${chartNo}.xml" ContentType="${CT_CHART}"/></Types>`);
      const relId = `rId${drawingRels.length + 1}`;
      drawingRels.push({ id: relId, type: REL_CHART, target: `../charts/chart${chartNo}.xml` });
      anchors.push(anchorXml(spec, chartNo, relId));
    }
    zip.file(`xl/drawings/drawing${drawingNo}.xml`, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<xdr:wsDr xmlns:xdr="${NS.xdr}" xmlns:a="${NS.a}">${anchors.join('')}</xdr:wsDr>`);
    zip.file(`xl/drawings/_rels/drawing${drawingNo}.xml.rels`, relsXml(drawingRels));
    types = types.replace('</Types>', `<Override PartName="/xl/drawings/drawing${drawingNo}.xml" ContentType="${CT_DRAWING}"/></Types>`);

    // The sheet's relationships: exceljs writes the file only when the sheet has some already.
    const relsPath = part.replace(/([^/]+)$/, '_rels/$1.rels');
    const existing = zip.file(relsPath)?.asText();
    const used = new Set([...(existing ?? '').matchAll(/\bId="([^"]+)"/g)].map((m) => m[1]));
    let n = 1;
    while (used.has(`rId${n}`)) n++;
    const sheetRel = { id: `rId${n}`, type: REL_DRAWING, target: `../drawings/drawing${drawingNo}.xml` };
    zip.file(relsPath, existing ? existing.replace('</Relationships>', `<Relationship Id="${sheetRel.id}" Type="${sheetRel.type}" Target="${sheetRel.target}"/></Relationships>`) : relsXml([sheetRel]));

    if (!/<worksheet\b[^>]*\bxmlns:r=/.test(sheetXml)) sheetXml = sheetXml.replace(/<worksheet\b/, `<worksheet xmlns:r="${NS.r}"`);
    const drawing = `<drawing r:id="${sheetRel.id}"/>`;
    const after = AFTER_DRAWING.map((t) => sheetXml.search(new RegExp(`<${t}\\b`))).filter((i) => i >= 0);
    const at = after.length ? Math.min(...after) : sheetXml.lastIndexOf('</worksheet>');
    if (at < 0) throw broken(`sheet "${sheet}" has no </worksheet>`);
    zip.file(part, sheetXml.slice(0, at) + drawing + sheetXml.slice(at));
  }
  zip.file('[Content_Types].xml', types);
  return zip.generate({ type: 'nodebuffer', compression: 'DEFLATE' });
}
