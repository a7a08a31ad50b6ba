import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import { listAttachments } from '../records/attachments.js';
import { recordHistory } from '../records/events.js';
import { recordParties } from '../records/parties.js';
import { findRecords, getRecord } from '../records/records.js';
import { showFields } from '../schemas/fields.js';
import { cut } from '../text/clean.js';
import { html, page, pickLang, sizeText, when, words, type Html, type Lang } from './html.js';
import { authenticate } from './users.js';

// The staff window: a search box and a read-only page per record (timeline, values by section with
// their overrides, attachments, packages and their delivery, incoming mail and its outcome, what came
// through the portal). Behind a sign-in: a password (staff_users, scrypt) with a signed session
// cookie, or — portal.staffAuth: proxy — the user the reverse proxy authenticated, in its header.

const COOKIE = 'dossier_staff';

export interface StaffAuth {
  /** The signed-in login, or null. */
  user(req: FastifyRequest): string | null;
  sessionCookie(login: string, now?: Date): string;
}

export function staffAuth(app: App, key: Buffer): StaffAuth {
  const mac = (s: string) => createHmac('sha256', key).update(`staff session\n${s}`).digest('base64url');
  return {
    user(req) {
      if (app.config.portal.staffAuth === 'proxy') {
        const v = req.headers[app.config.portal.proxyUserHeader.toLowerCase()];
        return typeof v === 'string' && v.trim() ? v.trim() : null;
      }
      const raw = req.cookies[COOKIE];
      if (!raw) return null;
      const i = raw.lastIndexOf('.');
      const body = raw.slice(0, i);
      const sig = Buffer.from(raw.slice(i + 1), 'base64url');
      const want = Buffer.from(mac(body), 'base64url');
      if (i <= 0 || sig.length !== want.length || !timingSafeEqual(sig, want)) return null;
      const [login, exp] = Buffer.from(body, 'base64url').toString('utf8').split('\n');
      if (!login || !exp || Date.now() > Number(exp)) return null;
      return login;
    },
    sessionCookie(login, now = new Date()) {
      const body = Buffer.from(`${login}\n${now.getTime() + app.config.portal.sessionHours * 3_600_000}`).toString('base64url');
      return `${body}.${mac(body)}`;
    },
  };
}

function nav(lang: Lang, user: string, csrf: string): Html {
  const w = words(lang);
  return html`<a href="/staff?lang=${lang}">${w.search}</a> <span class="muted">${user}</span>
<form method="post" action="/staff/logout?lang=${lang}" style="display:inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">${w.signOut}</button></form>`;
}

function loginPage(lang: Lang, csrf: string, message: string | null): string {
  const w = words(lang);
  return page(
    lang,
    w.signIn,
    html`<h1>${w.staff}</h1><p>${w.signInRequired}</p>${message ? html`<p class="refused">${message}</p>` : null}
<form method="post" action="/staff/login?lang=${lang}"><input type="hidden" name="_csrf" value="${csrf}">
<p><label>${w.login} <input name="login" autocomplete="username" required></label></p>
<p><label>${w.password} <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">${w.signIn}</button></p></form>`,
  );
}

const show = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

async function recordPage(app: App, ref: string, lang: Lang, navHtml: Html): Promise<string | null> {
  const w = words(lang);
  const record = await getRecord(app.db, ref).catch(() => null);
  if (!record) return null;
  const parties = await recordParties(app.db, record.id);
  const sections: { title: string; rows: Html[] }[] = [];
  const base = await showFields(app, record.ref).catch(() => null);
  if (base) sections.push({ title: w.base, rows: base.values.map((v) => html`<tr><td>${v.label}</td><td>${v.display}</td><td class="muted">${v.setBy ?? ''}</td></tr>`) });
  for (const p of parties.filter((x, i, all) => x.role === 'recipient' && all.findIndex((y) => y.id === x.id) === i)) {
    const view = await showFields(app, record.ref, { recipient: p.key }).catch(() => null);
    if (!view) continue;
    const own = view.values.filter((v) => v.provenance !== 'inherited' && v.provenance !== 'empty');
    if (own.length) sections.push({ title: `${p.name} (${p.key})`, rows: own.map((v) => html`<tr><td>${v.label}</td><td>${v.display}</td><td class="muted">${v.provenance === 'overridden' || v.provenance === 'stale_override' ? `${w.overridden} (${show(v.baseValue)})` : ''}</td></tr>`) });
  }
  const attachments = await listAttachments(app.db, record.id);
  const outbox = (await app.db.query<{ id: number; kind: string; to_addresses: string[]; subject: string; status: string; attempts: number; last_response: string | null; created_at: Date; file_name: string | null }>(
    'SELECT o.id, o.kind, o.to_addresses, o.subject, o.status, o.attempts, o.last_response, o.created_at, pk.file_name FROM outbox o LEFT JOIN packages pk ON pk.id = o.package_id WHERE o.record_id = $1 ORDER BY o.id',
    [record.id],
  )).rows;
  const inbound = (await app.db.query<{ id: number; from_address: string | null; subject: string | null; received_at: Date; outcome: string | null; reason: string | null }>(
    'SELECT id, from_address, subject, received_at, outcome, reason FROM inbound_messages WHERE record_id = $1 ORDER BY id',
    [record.id],
  )).rows;
  const portal = (await app.db.query<{ id: number; key: string; kind: string; file_name: string | null; size: number | null; received_at: Date; outcome: string | null; reason: string | null }>(
    'SELECT j.id, p.key, j.kind, j.file_name, j.size, j.received_at, j.outcome, j.reason FROM portal_journal j JOIN parties p ON p.id = j.party_id WHERE j.record_id = $1 ORDER BY j.id',
    [record.id],
  )).rows;
  const history = await recordHistory(app.db, record.id);
  const status = app.config.recordTypes[record.type]?.statuses[record.status]?.[lang] ?? record.status;
  const body = html`<h1>${record.ref}</h1><p>${record.title ?? ''} · ${w.status}: <b>${status}</b></p>
<p class="muted">${parties.map((p) => `${p.name} (${p.key}, ${p.role})`).join(' · ')}</p>
<h2>${w.values}</h2>${sections.map((s) => html`<h3>${s.title}</h3><table>${s.rows}</table>`)}
<h2>${w.attachments}</h2><table id="attachments">${attachments.map((a) => html`<tr><td>#${a.id}</td><td>${a.file_name}</td><td>${a.category}</td><td>${a.content_type}</td><td>${sizeText(Number(a.size))}</td><td>${a.created_by}</td><td>${when(a.created_at)}</td></tr>`)}</table>
<h2>${w.packages}</h2><table>${outbox.map((o) => html`<tr><td>#${o.id}</td><td>${o.kind}</td><td>${o.file_name ?? ''}</td><td>${o.to_addresses.join(', ')}</td><td>${cut(o.subject, 80)}</td><td><b>${o.status}</b> (${o.attempts})</td><td class="muted">${cut(o.last_response ?? '', 80)}</td></tr>`)}</table>
<h2>${w.incoming}</h2><table>${inbound.map((m) => html`<tr><td>#${m.id}</td><td>${when(m.received_at)}</td><td>${m.from_address ?? ''}</td><td>${cut(m.subject ?? '', 80)}</td><td><b>${m.outcome ?? 'pending'}</b></td><td class="muted">${m.reason ?? ''}</td></tr>`)}</table>
<h2>${w.portalIn}</h2><table id="portal">${portal.map((j) => html`<tr><td>#${j.id}</td><td>${when(j.received_at)}</td><td>${j.key}</td><td>${j.kind === 'file' ? j.file_name : 'message'}</td><td>${j.size ? sizeText(Number(j.size)) : ''}</td><td><b>${j.outcome ?? 'pending'}</b></td><td class="muted">${j.reason ?? ''}</td></tr>`)}</table>
<h2>${w.history}</h2><table id="history">${history.map((e) => html`<tr><td>${when(e.at)}</td><td>${e.actor}</td><td>${e.kind}</td><td>${e.field ?? ''}</td><td class="muted">${cut(show(e.new_value ?? e.old_value), 160)}</td></tr>`)}</table>`;
  return page(lang, record.ref, body, { nav: navHtml, here: `/staff/r/${record.ref}` });
}

export function registerStaffPages(server: FastifyInstance, app: App, auth: StaffAuth): void {
  const lang = (req: FastifyRequest) => pickLang(req.query, app.config.language);
  const htmlReply = (reply: FastifyReply, text: string, code = 200) => reply.code(code).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(text);
  /** The login page (401) when nobody is signed in; the user otherwise. */
  const guard = (req: FastifyRequest, reply: FastifyReply): string | null => {
    const user = auth.user(req);
    if (!user) {
      if (app.config.portal.staffAuth === 'proxy') htmlReply(reply, page(lang(req), words(lang(req)).staff, html`<h1>401</h1><p>${words(lang(req)).signInRequired}</p>`), 401);
      else htmlReply(reply, loginPage(lang(req), reply.generateCsrf(), null), 401);
    }
    return user;
  };

  server.get('/staff', async (req, reply) => {
    const user = guard(req, reply);
    if (!user) return reply;
    const l = lang(req);
    const w = words(l);
    const q = String((req.query as { q?: unknown }).q ?? '').trim();
    const found = q ? await findRecords(app.db, app.config, { text: q, limit: 50 }).catch(() => []) : await findRecords(app.db, app.config, { limit: 20 });
    const body = html`<h1>${w.search}</h1><form method="get" action="/staff"><input type="hidden" name="lang" value="${l}"><input name="q" value="${q}" size="40"> <button type="submit">${w.searchButton}</button></form>
${found.length ? html`<table id="results">${found.map((r) => html`<tr><td><a href="/staff/r/${r.ref}?lang=${l}">${r.ref}</a></td><td>${r.title ?? ''}</td><td>${app.config.recordTypes[r.type]?.statuses[r.status]?.[l] ?? r.status}</td><td class="muted">${(r.matched ?? []).join(', ')}</td></tr>`)}</table>` : html`<p>${w.noResults}</p>`}`;
    return htmlReply(reply, page(l, w.search, body, { nav: nav(l, user, reply.generateCsrf()), here: '/staff' }));
  });

  server.get('/staff/r/:ref', async (req, reply) => {
    const user = guard(req, reply);
    if (!user) return reply;
    const l = lang(req);
    const text = await recordPage(app, (req.params as { ref: string }).ref, l, nav(l, user, reply.generateCsrf()));
    return text ? htmlReply(reply, text) : htmlReply(reply, page(l, words(l).notFound, html`<h1>${words(l).notFound}</h1>`), 404);
  });

  server.post('/staff/login', { preHandler: server.csrfProtection, config: { rateLimit: { max: Math.max(3, Math.ceil(app.config.portal.rateLimitPerMinute / 10)), timeWindow: 60_000 } } }, async (req, reply) => {
    const l = lang(req);
    const b = (req.body ?? {}) as { login?: unknown; password?: unknown };
    const user = app.config.portal.staffAuth === 'password' ? await authenticate(app.db, String(b.login ?? '').trim(), String(b.password ?? '')) : null;
    if (!user) return htmlReply(reply, loginPage(l, reply.generateCsrf(), words(l).wrongLogin), 401);
    reply.setCookie(COOKIE, auth.sessionCookie(user.login), { path: '/', httpOnly: true, sameSite: 'strict', secure: app.config.portal.baseUrl.startsWith('https:') });
    return reply.redirect(`/staff?lang=${l}`, 303);
  });

  server.post('/staff/logout', { preHandler: server.csrfProtection }, async (req, reply) => {
    reply.clearCookie(COOKIE, { path: '/' });
    return reply.redirect(`/staff?lang=${lang(req)}`, 303);
  });
}
