import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import PizZip from 'pizzip';

// Reading generated documents back as a user would see them.

const run = promisify(execFile);

/** The text of a .docx body, one line per paragraph, table cells separated by " | ". */
export function docxText(bytes: Buffer): string {
  const xml = new PizZip(bytes).file('word/document.xml')!.asText();
  return xml
    .replace(/<\/w:p>\s*<\/w:tc>/g, ' | ')
    .replace(/<\/w:tr>/g, '\n')
    .replace(/<\/w:p>/g, '\n')
    .replace(/<w:br[^>]*\/>/g, '\n')
    .replace(/<w:t(?: [^>]*)?>([^<]*)<\/w:t>/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

/** Word checkbox content controls: their dossier tag → checked, and the glyph they show. */
export function docxCheckboxes(bytes: Buffer): Map<string, { checked: boolean; glyph: string }> {
  const xml = new PizZip(bytes).file('word/document.xml')!.asText();
  const out = new Map<string, { checked: boolean; glyph: string }>();
  for (const m of xml.matchAll(/<w:sdt>([\s\S]*?)<\/w:sdt>/g)) {
    const tag = /<w:tag w:val="dossier:([^"]+)"\/>/.exec(m[1]!)?.[1];
    const checked = /<w14:checked w14:val="(\d)"\/>/.exec(m[1]!)?.[1];
    const glyph = /<w:sdtContent>[\s\S]*?<w:t(?: [^>]*)?>([^<]*)<\/w:t>/.exec(m[1]!)?.[1];
    if (tag) out.set(tag, { checked: checked === '1', glyph: glyph ?? '' });
  }
  return out;
}

export async function pdfText(pdf: Buffer | string): Promise<string> {
  const file = typeof pdf === 'string' ? pdf : path.join(await mkdtemp(path.join(os.tmpdir(), 'dossier-pdf-')), 'x.pdf');
  if (typeof pdf !== 'string') await writeFile(file, pdf);
  return (await run('pdftotext', ['-layout', file, '-'], { maxBuffer: 16 << 20 })).stdout;
}

/** Converts a .docx with LibreOffice (as a real word processor would open it) and returns the PDF's text. */
export async function libreOfficeText(docx: Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dossier-lo-'));
  const file = path.join(dir, 'doc.docx');
  await writeFile(file, docx);
  // A profile directory of its own: two conversions at once must not share one.
  await run('soffice', [`-env:UserInstallation=file://${dir}/profile`, '--headless', '--convert-to', 'pdf', '--outdir', dir, file], { timeout: 120_000 });
  return pdfText(await readFile(path.join(dir, 'doc.pdf')));
}

/**
 * Opens a PDF in LibreOffice (Draw's PDF import, package libreoffice-draw-nogui) and returns the
 * text it shows, one text box a line: what a user opening the filled form in LibreOffice would read.
 */
export async function libreOfficePdfText(pdf: Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dossier-lo-'));
  await writeFile(path.join(dir, 'form.pdf'), pdf);
  await run('soffice', [`-env:UserInstallation=file://${dir}/profile`, '--headless', '--infilter=draw_pdf_import', '--convert-to', 'odg', '--outdir', dir, path.join(dir, 'form.pdf')], { timeout: 120_000 });
  const xml = new PizZip(await readFile(path.join(dir, 'form.odg'))).file('content.xml')!.asText();
  return [...xml.matchAll(/<text:p[^>]*>([\s\S]*?)<\/text:p>/g)].map((m) => m[1]!.replace(/<text:s[^>]*\/>/g, ' ').replace(/<[^>]+>/g, '')).join('\n');
}
