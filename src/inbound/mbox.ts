// mbox files (Thunderbird's local folders, `mutt`, mail exports, Google Takeout): messages one after
// another, each starting with a "From sender date" line. Given to `dossier mail ingest` such a file
// was taken for one message; here it is split into its messages. Both mbox dialects are read: in
// mboxrd a body line starting with ">From " (any number of ">") lost one ">" when written; in mboxo
// only ">From " was escaped. Unescaping one level reads both right except mboxo's literal ">From ",
// which is rare and harmless.

// "From sender@host Fri Nov 21 11:00:00 2026", "From - Fri Nov 21 11:00:00 2026", "From MAILER-DAEMON Fri Nov 21 11:00:00 2026 +0300"
const SEPARATOR = /^From \S*\s+(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+)?\S+\s+\d{1,2}\s+\d{1,2}:\d{2}(?::\d{2})?\s+(?:\S+\s+)?\d{4}\b.*$/;

/** An mbox starts with a separator line followed by a header field. */
export function isMbox(raw: Buffer): boolean {
  const head = raw.subarray(0, 2000).toString('latin1');
  const lines = head.split(/\r?\n/);
  return SEPARATOR.test(lines[0] ?? '') && /^[!-9;-~]+:/.test(lines[1] ?? '');
}

/** The messages of an mbox, without their separator lines, ">From " unescaped one level. */
export function splitMbox(raw: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  let pos = 0;
  let previousBlank = true;
  const unescape = (msg: Buffer): Buffer => {
    const text = msg.toString('latin1');
    // latin1 round-trips every byte, so 8-bit bodies pass unchanged.
    return /^>+From /m.test(text) ? Buffer.from(text.replace(/^>(>*From )/gm, '$1'), 'latin1') : msg;
  };
  const finish = (end: number, beforeSeparator: boolean): void => {
    if (start < 0) return;
    let e = end;
    // The empty line before the next separator belongs to the mbox, not to the message.
    if (beforeSeparator && e > start && raw[e - 1] === 0x0a) e--;
    if (beforeSeparator && e > start && raw[e - 1] === 0x0d) e--;
    if (e > start) out.push(unescape(raw.subarray(start, e)));
  };
  while (pos < raw.length) {
    let end = raw.indexOf(0x0a, pos);
    if (end < 0) end = raw.length;
    const line = raw.subarray(pos, Math.min(end, pos + 300)).toString('latin1').replace(/\r$/, '');
    if (previousBlank && line.startsWith('From ') && SEPARATOR.test(line)) {
      finish(pos, true);
      start = end + 1;
    }
    previousBlank = line === '';
    pos = end + 1;
  }
  finish(raw.length, false);
  return out.filter((m) => m.toString('latin1').trim() !== '');
}
