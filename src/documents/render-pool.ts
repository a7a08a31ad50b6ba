import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DossierError, ErrorCodes, type ErrorCode } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { FieldDef } from '../schemas/types.js';
import type { RenderData } from './evaluate.js';
import { renderWithData, type TemplateCache } from './fill.js';

// Filling DOCX and PDF templates is CPU work (XML, deflate, font subsetting); a deal's packages fill
// dozens. The pool spreads them over the machine's cores in worker threads while the calling thread
// gathers data, zips and stores. One render is one message: the template's path and the section's
// values; the schema's field list (the same for every recipient) goes to each thread once.

export interface RenderJobMessage {
  id: number;
  template: string;
  values: RenderData['values'];
  specials: RenderData['specials'];
  lang: RenderData['lang'];
  type: string;
  version: number;
  fieldsKey: string;
  fields?: Map<string, FieldDef>;
}
export type RenderReply = { id: number; bytes: Uint8Array } | { id: number; error: { code: ErrorCode | null; message: string; hint?: string | undefined; details?: unknown } };

/** The compiled thread script; the pool is used only where it exists (after `npm run build`). */
const WORKER_FILE = path.join(packageRoot, 'dist', 'documents', 'render-worker.js');

export interface Renderer {
  render(template: string, data: RenderData, type: string, version: number): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * Renders in the calling thread (one document, or no compiled thread script), one render per turn
 * of the event loop, in the order asked. A package build asks for every recipient's documents up
 * front and then zips them one recipient after another: taking turns, the later recipients'
 * renders run while the earlier zips wait on the disk, instead of all renders first and the
 * thread then idle while the zips are written (a fifth of the build's profile was idle).
 */
export function inlineRenderer(cache: TemplateCache = new Map()): Renderer {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    render(template, data, type, version) {
      const job = queue.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(async () => (await renderWithData(template, data, type, version, cache)).bytes);
      queue = job.catch(() => undefined);
      return job;
    },
    close: async () => {},
  };
}

/**
 * Threads to use: 1 (the default) fills documents in the calling thread. On this project's 2-core
 * machines the package benchmark was slower with threads (2.8 s with two, 2.3 s with one beside the
 * calling thread, against 2.0 s without: each thread first loads and warms up pdf-lib, fontkit and
 * docxtemplater, ~0.5 s of CPU and ~70 MB), so they are for larger machines, after measuring there.
 */
export function renderThreads(setting: number): number {
  return Math.max(1, setting);
}

/** Below this many documents a thread's start (loading pdf-lib, fontkit, docxtemplater: ~0.3 s of
 * CPU each) costs more than it saves. */
export const MIN_JOBS_FOR_THREADS = 6;

/** A pool of `size` render threads, or the inline renderer when threads would not help. */
export function openRenderer(size: number, jobs: number): Renderer {
  if (size <= 1 || jobs < MIN_JOBS_FOR_THREADS || !existsSync(WORKER_FILE)) return inlineRenderer();
  return new RenderPool(Math.min(size, jobs));
}

interface Slot { worker: Worker; busy: number; fieldsSent: Set<string> }

class RenderPool implements Renderer {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void; slot: Slot }>();
  private readonly keys = new WeakMap<Map<string, FieldDef>, string>();
  private nextId = 1;
  private nextKey = 1;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_FILE);
      const slot: Slot = { worker, busy: 0, fieldsSent: new Set() };
      worker.on('message', (r: RenderReply) => this.settle(r));
      worker.on('error', (err) => this.failAll(slot, err));
      worker.on('exit', (code) => code !== 0 && this.failAll(slot, new Error(`a render thread stopped (exit code ${code})`)));
      worker.unref();
      this.slots.push(slot);
    }
  }

  render(template: string, data: RenderData, type: string, version: number): Promise<Buffer> {
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    let fieldsKey = this.keys.get(data.fields);
    if (!fieldsKey) this.keys.set(data.fields, (fieldsKey = `fields-${this.nextKey++}`));
    const first = !slot.fieldsSent.has(fieldsKey);
    slot.fieldsSent.add(fieldsKey);
    const id = this.nextId++;
    const msg: RenderJobMessage = { id, template, values: data.values, specials: data.specials, lang: data.lang, type, version, fieldsKey, ...(first ? { fields: data.fields } : {}) };
    slot.busy++;
    return new Promise<Buffer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, slot });
      slot.worker.postMessage(msg);
    });
  }

  private settle(r: RenderReply): void {
    const w = this.waiting.get(r.id);
    if (!w) return;
    this.waiting.delete(r.id);
    w.slot.busy--;
    if ('bytes' in r) return w.resolve(Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength));
    const e = r.error;
    w.reject(e.code && e.code in ErrorCodes ? new DossierError(e.code, e.message, { hint: e.hint, details: e.details }) : new Error(e.message));
  }

  private failAll(slot: Slot, err: Error): void {
    for (const [id, w] of this.waiting) {
      if (w.slot !== slot) continue;
      this.waiting.delete(id);
      w.reject(new DossierError('RENDER_FAILED', `A render thread failed: ${err.message}`, { hint: 'This is a bug; run again with templates.renderThreads: 1 to render in one thread, and report it.' }));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
