import { parentPort } from 'node:worker_threads';
import { isDossierError } from '../errors.js';
import type { FieldDef } from '../schemas/types.js';
import { renderWithData, type TemplateCache } from './fill.js';
import type { RenderJobMessage, RenderReply } from './render-pool.js';

// A render thread of the pool (render-pool.ts): fills templates from the data it is sent. Each
// template is read and described once per thread, each schema's field list sent once per thread.

const templates: TemplateCache = new Map();
const schemas = new Map<string, Map<string, FieldDef>>();

parentPort!.on('message', async (m: RenderJobMessage) => {
  let reply: RenderReply;
  try {
    if (m.fields) schemas.set(m.fieldsKey, m.fields);
    const fields = schemas.get(m.fieldsKey);
    if (!fields) throw new Error(`the field list ${m.fieldsKey} was never sent to this render thread`);
    const r = await renderWithData(m.template, { values: m.values, specials: m.specials, lang: m.lang, fields }, m.type, m.version, templates);
    // Transferred, not copied — unless the bytes share a pooled buffer with others (small Buffers do).
    const whole = r.bytes.byteOffset === 0 && r.bytes.byteLength === r.bytes.buffer.byteLength;
    reply = { id: m.id, bytes: whole ? new Uint8Array(r.bytes.buffer, 0, r.bytes.byteLength) : new Uint8Array(r.bytes) };
  } catch (err) {
    const e = err as Error & { hint?: string; details?: unknown };
    reply = { id: m.id, error: { code: isDossierError(err) ? err.code : null, message: e.message, hint: e.hint, details: e.details } };
  }
  parentPort!.postMessage(reply, 'bytes' in reply ? [reply.bytes.buffer as ArrayBuffer] : []);
});
