import { open } from 'node:fs/promises';
import { fileTypeFromBuffer } from 'file-type';

const HEAD_BYTES = 4100; // what file-type needs to recognise every format it knows

/** True when the bytes are UTF-8 text without control characters other than tab, CR and LF. */
function looksLikeText(head: Buffer): boolean {
  if (head.length === 0) return false;
  // A multi-byte character may be cut at the end of the sample: drop up to 3 trailing bytes of it.
  let end = head.length;
  while (end > head.length - 3 && end > 0 && (head[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && head[end - 1]! >= 0xc0) end--;
  const sample = head.subarray(0, end);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample);
  } catch {
    return false;
  }
  for (const b of sample) if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  return true;
}

/** The content type from the bytes themselves, never from the file name a sender chose. */
export async function sniffBuffer(head: Buffer): Promise<string> {
  const found = await fileTypeFromBuffer(head);
  if (found) return found.mime;
  return looksLikeText(head) ? 'text/plain' : 'application/octet-stream';
}

export async function sniffFile(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return sniffBuffer(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
