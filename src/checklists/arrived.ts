import type { Actor, App } from '../app.js';
import type { Queryable } from '../db/pool.js';
import type { EvidenceMatch } from '../evidence/reuse.js';
import { enqueueMail, type OutboxRow } from '../outbound/outbox.js';
import { subjectTag } from '../text/refs.js';
import type { TickedItem } from './checklist.js';

// What staff are told when a reply brings files (issue 17): the checklist items they ticked and the
// files that are the same as, or a near-identical photo of, a file on another record. One email to
// mail.staff, in the intake's transaction; nothing when there is nothing to say.
export async function tellStaffArrived(app: App, q: Queryable, actor: Actor, input: { recordId: number; ref: string; from: string; ticked: TickedItem[]; reused: EvidenceMatch[] }): Promise<OutboxRow | null> {
  const staff = app.config.mail.staff;
  if (!staff.length || (!input.ticked.length && !input.reused.length)) return null;
  const pct = (s: number) => `${Math.round(s * 100)}%`;
  const text = [
    `${input.from} прислал(а) документы по заявке ${input.ref}.`,
    ...(input.ticked.length ? ['', 'Отмечено в чек-листах (проверьте: dossier doc accept|reject):', ...input.ticked.map((t) => `  ${t.recipient}: ${t.title} (${t.category})`)] : []),
    ...(input.reused.length
      ? ['', 'ВНИМАНИЕ: такие же файлы есть в других делах:', ...input.reused.map((m) => `  ${m.a.file} (${m.a.ref}) — ${m.b.file} (${m.b.ref}): ${m.method === 'sha256' ? 'тот же файл' : `похожее фото, ${pct(m.similarity)}`}`)]
      : []),
    '',
    `Подробнее: dossier checklist ${input.ref}${input.reused.length ? `; dossier evidence --ref ${input.ref}` : ''}`,
  ].join('\n');
  const subject = `${subjectTag(input.ref)} ${input.reused.length ? 'Повторно использованные файлы; ' : ''}${input.ticked.length ? `пришли документы по чек-листу (${input.ticked.length})` : 'пришли документы'}`;
  return enqueueMail(app, q, actor, { recordId: input.recordId, partyId: null, kind: 'notification', to: staff, subject, text, automatic: true });
}
