// What comes before a message's first header: a UTF-8 byte-order mark (Windows editors), an mbox
// "From " separator line (or its escaped ">From "), and old Mac CR-only line endings. Each of these
// made the header block unreadable, so the message lost its sender and subject. Also the Outlook
// .msg container, which is no MIME at all and is named as such instead of parsed as garbage.

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const CFB_MAGIC = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
// Every .msg file holds its properties in storage streams named "__substg1.0_…" (UTF-16LE names).
const MSG_STREAM = Buffer.from('__substg1.0_', 'utf16le');
const MSG_PROPS = Buffer.from('__properties_version1.0', 'utf16le');

/** The content type given to an attached Outlook message (file-type only says "application/x-cfb"). */
export const OUTLOOK_MSG_TYPE = 'application/vnd.ms-outlook';

/** A Compound File Binary (OLE2) container: Outlook .msg, but also old .doc/.xls. */
export function isCfb(bytes: Uint8Array): boolean {
  return bytes.length >= 512 && Buffer.from(bytes.buffer, bytes.byteOffset, 8).equals(CFB_MAGIC);
}

/** An Outlook .msg: a CFB container with the MAPI property streams of a message. */
export function isOutlookMsg(bytes: Uint8Array): boolean {
  if (!isCfb(bytes)) return false;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return b.includes(MSG_STREAM) || b.includes(MSG_PROPS);
}

/** The message with a BOM, an mbox separator line and CR-only line ends repaired; `note` says what was done. */
export function normalizeStart(raw: Buffer, note: (message: string) => void): Buffer {
  let buf = raw;
  if (buf.subarray(0, 3).equals(BOM)) {
    buf = buf.subarray(3);
    note('The message starts with a UTF-8 byte-order mark; it was skipped.');
  }
  // "From sender@host Fri Nov 21 11:00:00 2026" (mbox) or ">From …" (an escaped one): never a header field.
  if (buf[0] === 0x46 || buf[0] === 0x3e) {
    const head = buf.subarray(0, 6).toString('latin1');
    const firstLine = buf.subarray(0, 200).toString('latin1').split(/[\r\n]/)[0]!;
    if ((head.startsWith('From ') || head.startsWith('>From ')) && !/^From\s*:/.test(firstLine)) {
      const eol = buf.indexOf(0x0a);
      const cr = buf.indexOf(0x0d);
      const end = eol >= 0 ? eol + 1 : cr >= 0 ? cr + 1 : buf.length;
      buf = buf.subarray(end);
      note('The message starts with an mbox "From " line; it was skipped.');
    }
  }
  // CR-only line ends (classic Mac OS, some gateways): no LF at all in the first 64 KB but CRs.
  const sample = buf.subarray(0, 64 * 1024);
  if (sample.includes(0x0d) && !sample.includes(0x0a)) {
    const out = Buffer.alloc(buf.length * 2);
    let n = 0;
    for (const b of buf) {
      out[n++] = b;
      if (b === 0x0d) out[n++] = 0x0a;
    }
    buf = out.subarray(0, n);
    note('The message has CR-only line ends; they were read as CRLF.');
  }
  return buf;
}
