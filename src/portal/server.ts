import { createHmac } from 'node:crypto';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { App } from '../app.js';
import { DossierError } from '../errors.js';
import { tokenSecret } from '../outbound/settings.js';
import { html, page, pickLang } from './html.js';
import { redactLinkPath } from './links.js';
import { metricsText } from './metrics.js';
import { registerPartyPages } from './party-pages.js';
import { registerStaffPages, staffAuth } from './staff-pages.js';

// `dossier serve`: the portal on fastify. Security: helmet's headers (a strict content policy — the
// pages have no scripts —, no Referer so a link never leaks to another site, no framing), CSRF on
// every form (a secret in a signed cookie, the token in the form or, for the streaming upload, in
// its action's query), a rate limit per address (sign-in a tenth of it), a size limit on uploads
// and on form bodies, and logs that never carry a link: every path is logged with /l/<…> cut out.

export interface PortalOptions {
  /** Log lines (JSON, pino); none when omitted. */
  log?: (line: string) => void;
}

export async function buildPortal(app: App, opts: PortalOptions = {}): Promise<FastifyInstance> {
  const secret = await tokenSecret(app);
  const key = createHmac('sha256', secret).update('dossier portal cookie key').digest();
  const logger = pino(
    {
      level: opts.log ? 'info' : 'silent',
      timestamp: pino.stdTimeFunctions.isoTime,
      // Whatever logs a request (errors too) sees only the redacted path.
      serializers: { req: (r: { method?: string; url?: string }) => ({ method: r.method, url: redactLinkPath(r.url ?? '') }) },
    },
    { write: (s: string) => opts.log?.(s.trimEnd()) },
  );
  const server = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    disableRequestLogging: true,
    trustProxy: app.config.portal.trustProxy,
    bodyLimit: 256 * 1024,
    // A link's path is the credential: the request id must not be derived from it (it is not).
  });
  server.addHook('onResponse', async (req, reply) => {
    req.log.info({ method: req.method, url: redactLinkPath(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  await server.register(helmet, {
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], styleSrc: ["'unsafe-inline'"], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"], imgSrc: ["'self'"] } },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: app.config.portal.baseUrl.startsWith('https:'),
  });
  await server.register(rateLimit, { max: app.config.portal.rateLimitPerMinute, timeWindow: 60_000 });
  await server.register(cookie, { secret: key.toString('base64') });
  await server.register(csrf, {
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/', secure: app.config.portal.baseUrl.startsWith('https:') },
    getToken: (req) => {
      const fromBody = (req.body as { _csrf?: unknown } | undefined)?._csrf;
      const fromQuery = (req.query as { _csrf?: unknown } | undefined)?._csrf;
      const header = req.headers['x-csrf-token'];
      return String(fromBody ?? fromQuery ?? header ?? '');
    },
  });
  await server.register(formbody, { bodyLimit: 64 * 1024 });
  await server.register(multipart, { limits: { fileSize: app.config.portal.maxUploadBytes, files: 1, fields: 2, fieldSize: 1024 } });

  server.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const lang = pickLang(req.query, app.config.language);
    const status = err instanceof DossierError ? (err.exitCode === 1 ? 400 : 500) : (err.statusCode ?? 500);
    if (status >= 500) req.log.error({ err: { message: err.message, code: err.code } }, 'request failed');
    const what = status === 403 && err.code?.startsWith('FST_CSRF') ? (lang === 'ru' ? 'Форма устарела: откройте страницу заново и отправьте ещё раз.' : 'The form has expired: open the page again and send it once more.') : status === 429 ? (lang === 'ru' ? 'Слишком много запросов; подождите минуту.' : 'Too many requests; wait a minute.') : status < 500 ? err.message : lang === 'ru' ? 'Внутренняя ошибка.' : 'Internal error.';
    return reply.code(status).type('text/html; charset=utf-8').send(page(lang, String(status), html`<h1>${status}</h1><p>${what}</p>`));
  });
  server.setNotFoundHandler(async (req, reply) => {
    const lang = pickLang(req.query, app.config.language);
    return reply.code(404).type('text/html; charset=utf-8').send(page(lang, '404', html`<h1>404</h1>`));
  });

  server.get('/healthz', { config: { rateLimit: false } }, async (_req, reply) => {
    await app.db.query('SELECT 1');
    return reply.type('text/plain').send('ok\n');
  });
  server.get('/metrics', { config: { rateLimit: false } }, async (_req, reply) => reply.type('text/plain; version=0.0.4').send(await metricsText(app)));
  server.get('/', async (req, reply) => reply.redirect(`/staff?lang=${pickLang(req.query, app.config.language)}`, 302));

  registerPartyPages(server, app);
  registerStaffPages(server, app, staffAuth(app, key));
  return server;
}

/** Starts listening; resolves with the address. */
export async function startPortal(app: App, server: FastifyInstance, o: { port?: number; host?: string } = {}): Promise<string> {
  try {
    return await server.listen({ port: o.port ?? app.config.portal.port, host: o.host ?? app.config.portal.host });
  } catch (err) {
    throw new DossierError('PORTAL_START_FAILED', `The portal cannot listen on ${o.host ?? app.config.portal.host}:${o.port ?? app.config.portal.port}: ${(err as Error).message}`, {
      hint: 'Another program may use the port: choose another with --port (or portal.port in the configuration).',
      cause: err,
    });
  }
}
