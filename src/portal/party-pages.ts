import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor, App } from '../app.js';
import { computeChecklist, onDocumentArrived, type DocumentStatus } from '../checklists/checklist.js';
import { withTransaction } from '../db/pool.js';
import { enqueueMail } from '../outbound/outbox.js';
import { safeFileName } from '../packages/zip.js';
import { attachStoredIn, type AttachmentRow } from '../records/attachments.js';
import { flagReusedEvidence } from '../evidence/reuse.js';
import { recordEvent, recordHistory } from '../records/events.js';
import { sniffBuffer } from '../storage/sniff.js';
import { subjectTag } from '../text/refs.js';
import { cut } from '../text/clean.js';
import { html, page, pickLang, sizeText, when, words, type Html, type Lang } from './html.js';
import { checkLink, type LinkCheck } from './links.js';

// The pages a link opens. A party's link (a lawyer, a bank): its checklist, what it has sent, an
// upload form and a message box. A client's link: the record's status in plain words, the
// documents still needed, whom to contact. Uploads stream to the blob store (never whole in
// memory), are checked like mail attachments (size, type from the bytes, a safe name), journaled
// in portal_journal before the bytes are read and closed with the outcome, attached through the
// records module (audited as attachment_added by portal:<party>) and acknowledged — on the page at
// once and by mail to the party's addresses.

type Ok = LinkCheck & { status: 'ok'; record: NonNullable<LinkCheck['record']>; party: NonNullable<LinkCheck['party']>; claims: NonNullable<LinkCheck['claims']> };

const HEAD = 4100;
/** Types never taken from outside: programs and scripts (by their bytes, whatever the name says). */
const REFUSED_TYPES = new Set(['application/x-msdownload', 'application/x-elf', 'application/x-mach-binary', 'application/x-sh', 'application/x-dosexec', 'application/vnd.microsoft.portable-executable']);

// Source "message": what arrives through a link is the web form of a reply; the id tells them apart.
export const portalActor = (partyKey: string): Actor => ({ id: `portal:${partyKey}`, source: 'message' });

function refusedPage(reply: FastifyReply, lang: Lang, check: LinkCheck): FastifyReply {
  const w = words(lang);
  const what = check.status === 'expired' ? w.expired : check.status === 'revoked' ? w.revoked : w.invalid;
  // 410 Gone for a link that worked once; 404 for one that never did.
  return reply
    .code(check.status === 'invalid' ? 404 : 410)
    .type('text/html; charset=utf-8')
    .send(page(lang, w.linkRefused, html`<h1>${w.linkRefused}</h1><p class="refused">${what}</p><p>${w.askNew}</p>`));
}

async function withLink(app: App, req: FastifyRequest, reply: FastifyReply): Promise<Ok | null> {
  const token = (req.params as { token: string }).token;
  const check = await checkLink(app, app.db, token);
  if (check.status !== 'ok') {
    refusedPage(reply, pickLang(req.query, app.config.language), check);
    return null;
  }
  return check as Ok;
}

const stateWord = (lang: Lang, d: DocumentStatus) => {
  const w = words(lang);
  return d.state === 'present' ? w.present : d.state === 'missing' ? w.missingWord : d.state === 'expired' ? w.expiredWord : w.rejectedWord;
};

/** The party's own checklist; for a party without one (a lawyer), what the record still lacks. */
async function checklistFor(app: App, ref: string, partyKey: string): Promise<DocumentStatus[]> {
  const view = await computeChecklist(app, ref).catch(() => ({ recipients: [] as { recipient: string; documents: DocumentStatus[] }[] }));
  const own = view.recipients.find((r) => r.recipient === partyKey);
  if (own) return own.documents;
  const seen = new Map<string, DocumentStatus>();
  for (const r of view.recipients) for (const d of r.documents) if (d.state !== 'present' && !seen.has(d.title)) seen.set(d.title, d);
  return [...seen.values()];
}

function statusLabel(app: App, type: string, status: string, lang: Lang): string {
  return app.config.recordTypes[type]?.statuses[status]?.[lang] ?? status;
}

async function partyPage(app: App, ok: Ok, lang: Lang, csrf: string, token: string, notice: Html | null): Promise<string> {
  const w = words(lang);
  const { record, party } = ok;
  const docs = await checklistFor(app, record.ref, party.key);
  const sent = (
    await app.db.query<{ kind: string; file_name: string | null; size: number | null; received_at: Date; outcome: string | null; reason: string | null }>(
      'SELECT kind, file_name, size, received_at, outcome, reason FROM portal_journal WHERE record_id = $1 AND party_id = $2 ORDER BY id',
      [record.id, party.id],
    )
  ).rows;
  const mailed = (
    await app.db.query<{ file_name: string; size: number; created_at: Date }>(
      `SELECT a.file_name, a.size, a.created_at FROM attachments a JOIN inbound_messages m ON a.created_by = 'message:' || m.id
        WHERE a.record_id = $1 AND m.party_id = $2 AND a.detached_at IS NULL ORDER BY a.id`,
      [record.id, party.id],
    )
  ).rows;
  const q = `?lang=${lang}&_csrf=${encodeURIComponent(csrf)}`;
  const base = `/l/${token}`;
  const body = html`<h1>${w.record} ${record.ref}</h1>
<p>${record.title ?? ''} · ${w.status}: <b>${statusLabel(app, record.type, record.status, lang)}</b></p>
<p class="muted">${party.name} · ${w.validUntil} ${when(ok.claims.expiresAt)} UTC</p>
${notice}
<h2>${w.checklist}</h2>
${docs.length ? html`<table>${docs.map((d) => html`<tr><td>${d.title}</td><td class="${d.state === 'present' ? 'ok' : 'missing'}">${stateWord(lang, d)}</td></tr>`)}</table>` : html`<p>${w.nothingNeeded}</p>`}
<h2>${w.sentSoFar}</h2>
${sent.length || mailed.length
  ? html`<table id="sent">${mailed.map((m) => html`<tr><td>${m.file_name}</td><td>${sizeText(Number(m.size))}</td><td>${when(m.created_at)}</td><td>email</td></tr>`)}${sent.map(
      (s) => html`<tr><td>${s.kind === 'file' ? s.file_name : w.message}</td><td>${s.size ? sizeText(Number(s.size)) : ''}</td><td>${when(s.received_at)}</td><td class="${s.outcome === 'applied' ? 'ok' : 'missing'}">${s.outcome === 'applied' ? w.received : `${w.refused}: ${s.reason ?? ''}`}</td></tr>`,
    )}</table>`
  : html`<p>${w.nothingYet}</p>`}
<h2>${w.upload}</h2>
<form method="post" action="${base}/upload${q}" enctype="multipart/form-data">
<p><input type="file" name="file" required> <button type="submit">${w.uploadButton}</button></p>
<p class="muted">${w.uploadHint} ${sizeText(app.config.portal.maxUploadBytes)}.</p>
</form>
<h2>${w.message}</h2>
<form method="post" action="${base}/message?lang=${lang}">
<input type="hidden" name="_csrf" value="${csrf}">
<textarea name="text" maxlength="10000" required></textarea>
<p><button type="submit">${w.messageButton}</button></p>
</form>`;
  return page(lang, `${w.record} ${record.ref}`, body, { here: base });
}

async function statusPage(app: App, ok: Ok, lang: Lang, token: string): Promise<string> {
  const w = words(lang);
  const { record } = ok;
  const events = (await recordHistory(app.db, record.id)).filter((e) => e.kind === 'record_created' || e.kind === 'status_changed');
  const steps = events.map((e) => {
    const to = e.kind === 'record_created' ? (e.new_value as { status?: string } | null)?.status : (e.new_value as string | { status?: string } | null);
    const status = typeof to === 'string' ? to : (to?.status ?? '');
    return { at: e.at, label: statusLabel(app, record.type, status, lang) };
  });
  const view = await computeChecklist(app, record.ref).catch(() => ({ recipients: [] as { documents: DocumentStatus[] }[] }));
  const needed = [...new Set(view.recipients.flatMap((r) => r.documents.filter((d) => d.state !== 'present').map((d) => d.title)))];
  const contact = app.config.portal.contact ?? app.config.mail.from;
  const body = html`<h1>${w.record} ${record.ref}</h1>
<p>${record.title ?? ''}</p>
<p>${w.status}: <b id="status">${statusLabel(app, record.type, record.status, lang)}</b></p>
<h2>${w.timeline}</h2>
<ol id="timeline">${steps.map((s) => html`<li>${when(s.at).slice(0, 10)} — ${s.label}</li>`)}</ol>
<h2>${w.stillNeeded}</h2>
${needed.length ? html`<ul id="needed">${needed.map((n) => html`<li>${n}</li>`)}</ul>` : html`<p>${w.nothingNeeded}</p>`}
<h2>${w.contact}</h2><p>${contact}</p>`;
  return page(lang, `${w.record} ${record.ref}`, body, { here: `/l/${token}` });
}

// An attach transaction holds a pooled connection while it waits for the record's lock. With every
// connection held by such waiters, nothing else could run (found by bench/upload.mjs: 50 uploads at
// once hung while the checklist tick, then inside the transaction, waited for a connection). The tick
// now runs after the commit; and at most a third of the pool is in attach transactions at a time, so
// uploads finishing together leave connections for the pages.
const slots = new WeakMap<App, { free: number; waiting: (() => void)[] }>();
async function attachSlot<T>(app: App, fn: () => Promise<T>): Promise<T> {
  let s = slots.get(app);
  if (!s) slots.set(app, (s = { free: Math.max(1, Math.floor(app.config.database.poolSize / 3)), waiting: [] }));
  const slot = s;
  if (slot.free > 0) slot.free--;
  else await new Promise<void>((resolve) => slot.waiting.push(resolve));
  try {
    return await fn();
  } finally {
    const next = slot.waiting.shift();
    if (next) next();
    else slot.free++;
  }
}

/** Counts bytes and keeps the first HEAD of them for the type check, passing everything on. */
function headTap(): Transform & { head(): Buffer; bytes(): number } {
  const chunks: Buffer[] = [];
  let have = 0;
  let total = 0;
  const t = new Transform({
    transform(chunk: Buffer, _e, done) {
      total += chunk.length;
      if (have < HEAD) {
        chunks.push(chunk.subarray(0, HEAD - have));
        have += Math.min(chunk.length, HEAD - have);
      }
      done(null, chunk);
    },
  }) as Transform & { head(): Buffer; bytes(): number };
  t.head = () => Buffer.concat(chunks);
  t.bytes = () => total;
  return t;
}

async function journalOpen(app: App, ok: Ok, kind: 'file' | 'message', originalName: string | null): Promise<number> {
  return Number(
    (await app.db.query<{ id: string }>('INSERT INTO portal_journal (record_id, party_id, kind, original_name) VALUES ($1, $2, $3, $4) RETURNING id', [ok.record.id, ok.party.id, kind, originalName])).rows[0]!.id,
  );
}

async function journalRefuse(app: App, id: number, reason: string, extra: { size?: number; contentType?: string; fileName?: string } = {}): Promise<void> {
  await app.db.query(
    `UPDATE portal_journal SET outcome = 'refused', reason = $2, size = $3, content_type = $4, file_name = $5, processed_at = now() WHERE id = $1`,
    [id, reason, extra.size ?? null, extra.contentType ?? null, extra.fileName ?? null],
  );
}

/** The acknowledgement mail to the party (its addresses), written in the caller's transaction. */
async function acknowledge(app: App, c: Parameters<typeof enqueueMail>[1], ok: Ok, what: string): Promise<void> {
  if (!ok.party.emails.length) return;
  const lang = app.config.notifications.language ?? app.config.language;
  const text =
    lang === 'ru'
      ? `Здравствуйте!\n\nМы получили через портал по делу ${ok.record.ref}: ${what}.\nСпасибо.\n\n— Dossier (письмо отправлено автоматически)`
      : `Hello,\n\nWe received through the portal for ${ok.record.ref}: ${what}.\nThank you.\n\n— Dossier (sent automatically)`;
  await enqueueMail(app, c, portalActor(ok.party.key), { recordId: ok.record.id, partyId: ok.party.id, kind: 'acknowledgement', to: ok.party.emails, subject: `${subjectTag(ok.record.ref)} ${lang === 'ru' ? 'Получено через портал' : 'Received through the portal'}`, text, automatic: true });
}

/** Why an upload or a message was refused, in the language of the page (the journal keeps what the sender was told). */
function refusals(lang: Lang) {
  return lang === 'ru'
    ? { noFile: 'файл не выбран', tooBig: (n: number) => `файл больше ${sizeText(n)}`, broken: (m: string) => `передача файла прервалась (${m})`, empty: 'файл пустой', program: (t: string) => `программы не принимаются (${t})`, emptyMessage: 'сообщение пустое' }
    : { noFile: 'no file was chosen', tooBig: (n: number) => `the file is larger than ${sizeText(n)}`, broken: (m: string) => `the upload broke off (${m})`, empty: 'the file is empty', program: (t: string) => `programs are not accepted (${t})`, emptyMessage: 'the message is empty' };
}

export function registerPartyPages(server: FastifyInstance, app: App): void {
  const lang = (req: FastifyRequest) => pickLang(req.query, app.config.language);
  const token = (req: FastifyRequest) => (req.params as { token: string }).token;
  const show = async (req: FastifyRequest, reply: FastifyReply, notice: Html | null) => {
    const ok = await withLink(app, req, reply);
    if (!ok) return reply;
    const l = lang(req);
    const text = ok.party.role === 'client' ? await statusPage(app, ok, l, token(req)) : await partyPage(app, ok, l, reply.generateCsrf(), token(req), notice);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(text);
  };

  server.get('/l/:token', async (req, reply) => {
    const q = req.query as { done?: string; refused?: string };
    const w = words(lang(req));
    let notice: Html | null = null;
    if (q.done) {
      const ok = await checkLink(app, app.db, token(req));
      const row = ok.party
        ? (await app.db.query<{ kind: string; file_name: string | null; size: number | null; outcome: string; reason: string | null }>('SELECT kind, file_name, size, outcome, reason FROM portal_journal WHERE id = $1 AND party_id = $2', [Number(q.done) || 0, ok.party.id])).rows[0]
        : undefined;
      if (row?.outcome === 'applied') notice = html`<p class="notice" id="notice">${row.kind === 'file' ? html`${w.received}: ${row.file_name} (${sizeText(Number(row.size))}), № ${q.done}` : w.receivedNote}</p>`;
      else if (row) notice = html`<p class="refused" id="notice">${w.refused}: ${row.reason ?? ''}</p>`;
    }
    return show(req, reply, notice);
  });

  server.post('/l/:token/upload', { preHandler: server.csrfProtection }, async (req, reply) => {
    const ok = await withLink(app, req, reply);
    if (!ok || ok.party.role === 'client') return ok ? reply.code(403).send('Forbidden') : reply;
    const limit = app.config.portal.maxUploadBytes;
    const why = refusals(lang(req));
    const part = await req.file({ limits: { fileSize: limit, files: 1, fields: 0 } });
    const back = (id: number) => reply.redirect(`/l/${token(req)}?lang=${lang(req)}&done=${id}`, 303);
    if (!part) {
      const id = await journalOpen(app, ok, 'file', null);
      await journalRefuse(app, id, why.noFile);
      return back(id);
    }
    const originalName = cut(part.filename || 'file', 255);
    const id = await journalOpen(app, ok, 'file', originalName);
    const tap = headTap();
    let stored: { sha256: string; size: number };
    try {
      stored = await app.blobs.put(part.file.pipe(tap));
    } catch (err) {
      // The size limit ends the stream with an error (FST_REQ_FILE_TOO_LARGE); anything else too.
      const tooBig = part.file.truncated || (err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE';
      await journalRefuse(app, id, tooBig ? why.tooBig(limit) : why.broken((err as Error).message), { size: tap.bytes() });
      return back(id);
    }
    if (part.file.truncated) {
      await journalRefuse(app, id, why.tooBig(limit), { size: stored.size });
      return back(id);
    }
    const contentType = await sniffBuffer(tap.head());
    const fileName = safeFileName(originalName);
    if (stored.size === 0) {
      await journalRefuse(app, id, why.empty, { size: 0, fileName });
      return back(id);
    }
    if (REFUSED_TYPES.has(contentType)) {
      await journalRefuse(app, id, why.program(contentType), { size: stored.size, contentType, fileName });
      return back(id);
    }
    const actor = portalActor(ok.party.key);
    let attached: AttachmentRow[] = [];
    const done = await attachSlot(app, () => withTransaction(app.db, async (c) => {
      await c.query('SELECT 1 FROM records WHERE id = $1 FOR UPDATE', [ok.record.id]);
      // The link again, under the record's lock: one revoked while the bytes were arriving takes nothing.
      const still = await checkLink(app, c, token(req));
      if (still.status !== 'ok') return { reason: still.reason };
      const r = await attachStoredIn(c, actor, ok.record.id, [{ fileName, contentType, size: stored.size, sha256: stored.sha256, details: { originalName, via: 'portal', portalJournal: id } }], app.config.intake.incomingCategory);
      const att = r.attached[0] ?? r.alreadyThere[0]!;
      await c.query(
        `UPDATE portal_journal SET outcome = 'applied', reason = $2, file_name = $3, content_type = $4, size = $5, sha256 = $6, attachment_id = $7, processed_at = now() WHERE id = $1`,
        [id, r.attached.length ? `attached to ${ok.record.ref} as #${att.id}` : `already on ${ok.record.ref} as #${att.id}`, fileName, contentType, stored.size, stored.sha256, att.id],
      );
      await acknowledge(app, c, ok, `${fileName} (${sizeText(stored.size)})`);
      attached = r.attached;
      return null;
    })).catch(async (err: unknown) => {
      // The journal says so (not left pending); the error page follows.
      await app.db.query(`UPDATE portal_journal SET outcome = 'failed', reason = $2, processed_at = now() WHERE id = $1`, [id, (err as Error).message]).catch(() => {});
      throw err;
    });
    if (done !== null) await journalRefuse(app, id, done.reason, { size: stored.size, contentType, fileName });
    // Issue 17's check, as `dossier attach` runs it: the same file or photo on another record is
    // flagged on both (after the commit: a photo that cannot be decoded must not undo the upload).
    else if (attached.length) {
      // After the commit, outside any transaction: the checklist is computed through the pool, and a
      // transaction waiting for it while holding a connection could starve it (a small pool, many
      // uploads at once). The tick sees the committed file.
      await onDocumentArrived(app, app.db, actor, { recordId: ok.record.id, attachmentIds: attached.map((a) => a.id) }).catch((err: unknown) => req.log.warn({ err: { message: (err as Error).message } }, 'checklist tick failed'));
      await flagReusedEvidence(app.db, app.blobs, actor, attached).catch((err: unknown) => req.log.warn({ err: { message: (err as Error).message } }, 'evidence check failed'));
    }
    return back(id);
  });

  server.post('/l/:token/message', { preHandler: server.csrfProtection }, async (req, reply) => {
    const ok = await withLink(app, req, reply);
    if (!ok || ok.party.role === 'client') return ok ? reply.code(403).send('Forbidden') : reply;
    const text = String((req.body as { text?: unknown } | undefined)?.text ?? '').trim();
    const id = await journalOpen(app, ok, 'message', null);
    if (!text) {
      await journalRefuse(app, id, refusals(lang(req)).emptyMessage);
    } else {
      const actor = portalActor(ok.party.key);
      await withTransaction(app.db, async (c) => {
        // Like the text of a reply: a note on the record.
        await recordEvent(c, actor, { recordId: ok.record.id, partyId: ok.party.id, kind: 'note_added', field: 'note', newValue: cut(text, 10_000), details: { via: 'portal', portalJournal: id } });
        await c.query(`UPDATE portal_journal SET outcome = 'applied', reason = 'note added', size = $2, processed_at = now() WHERE id = $1`, [id, Buffer.byteLength(text)]);
        await c.query('UPDATE records SET updated_at = now() WHERE id = $1', [ok.record.id]);
        await acknowledge(app, c, ok, lang(req) === 'ru' ? 'сообщение' : 'a message');
      });
    }
    return reply.redirect(`/l/${token(req)}?lang=${lang(req)}&done=${id}`, 303);
  });
}


