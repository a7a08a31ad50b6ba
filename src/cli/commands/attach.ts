import type { Actor, App } from '../../app.js';
import { attachFiles, type AttachResult } from '../../records/attachments.js';
import { formatBytes, formatTable } from '../output.js';

export async function attach(app: App, actor: Actor, o: { ref: string; files: string[]; category: string }): Promise<AttachResult> {
  return attachFiles(app.db, app.blobs, app.config, actor, o.ref, o.files, o.category);
}

export function renderAttach(r: AttachResult): string {
  const rows = [
    ...r.attached.map((a) => ['attached', a.file_name, a.content_type, formatBytes(a.size), a.sha256.slice(0, 12)]),
    ...r.alreadyThere.map((a) => ['already there', a.file_name, a.content_type, formatBytes(a.size), a.sha256.slice(0, 12)]),
  ];
  return formatTable(['', 'file', 'type', 'size', 'sha256'], rows);
}
