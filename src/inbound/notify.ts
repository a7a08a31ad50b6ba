import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Actor, App } from '../app.js';
import type { DbClient } from '../db/pool.js';
import type { RenderData } from '../documents/evaluate.js';
import { renderText } from '../documents/text.js';
import { enqueueMail, type MailInput, type OutboxRow } from '../outbound/outbox.js';
import { queueSms } from '../outbound/sms.js';
import type { PartyFact, Problem, RecordFact } from '../routing/intent.js';
import type { StatusCommand } from '../routing/status-reply.js';
import { cut } from '../text/clean.js';
import { subjectTag, withoutTags } from '../text/refs.js';
import type { DroppedPart } from './parse/context.js';
import type { ParsedMessage } from './types.js';

// Every message intake writes — the confirmation of an applied decision, the refusal of a staff
// message that changed nothing, the acknowledgement of a party's documents, the notices to the
// record's participants and to the client (email and SMS) — from templates/_notify, in the
// configured language (notifications.language, else the top-level language) and, for the client, in the record type's wording.
// Outbox rows and SMS rows are written in the caller's transaction.

export type Lang = 'ru' | 'en';

export interface Notifier {
  lang: Lang;
  /** Outbox rows written, to queue once the transaction commits. */
  outbox: OutboxRow[];
  confirmDecision(record: RecordFact, d: DecisionSummary): Promise<void>;
  refuse(record: RecordFact | null, problem: Problem): Promise<void>;
  acknowledgeDocuments(record: RecordFact, party: PartyFact, files: string[], note: string): Promise<void>;
  noticeParticipants(record: RecordFact, party: PartyFact, files: string[], note: string): Promise<void>;
  /** The sender told which files were not taken and why (when no acknowledgement or confirmation said it). */
  tellDropped(record: RecordFact): Promise<void>;
  /** Whether an answer to the sender has named the files not taken. */
  droppedTold: boolean;
  /** The client's email and SMS; false when the record has no client to tell. */
  tellClient(record: RecordFact, d: DecisionSummary): Promise<boolean>;
}

/** What an applied decision did, for the confirmation and the client's notice. */
export interface DecisionSummary {
  party: PartyFact;
  command: StatusCommand;
  /** Formatted, without a currency (e.g. "1 500 000,00"), or ''. */
  amount: string;
  statusFrom: string;
  statusTo: string | null;
  /** Why the status stayed: not every recipient decided so, or the rule's status does not follow. */
  statusKept: 'not-all' | 'no-transition' | null;
  client: PartyFact | null;
}

const sources = new Map<string, { mtimeMs: number; text: string } | null>();

/** A template's text (re-read when its file changes), or null when there is none. */
function source(file: string): string | null {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    sources.set(file, null);
    return null;
  }
  const hit = sources.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.text;
  const text = readFileSync(file, 'utf8');
  sources.set(file, { mtimeMs, text });
  return text;
}

const LABELS: Record<Lang, Record<StatusCommand['decision'], string>> = {
  ru: { approved: 'одобрено', declined: 'отказ', more_info: 'запрос документов' },
  en: { approved: 'approved', declined: 'declined', more_info: 'more documents requested' },
};

const mbText = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MB`;

/** One line per file not taken, in the message's language. */
export function droppedLines(lang: Lang, dropped: DroppedPart[]): string {
  const why = (d: DroppedPart) => {
    if (lang === 'en') {
      if (d.why === 'size') return `${mbText(d.size ?? 0)}, over the ${mbText(d.limit ?? 0)} limit for one file`;
      if (d.why === 'count') return `over the limit of ${d.limit} files per message`;
      if (d.why === 'parts') return `the message has more than ${d.limit} parts; these were not read`;
      return 'cut off: the message ends inside it';
    }
    if (d.why === 'size') return `${mbText(d.size ?? 0)} — больше допустимых ${mbText(d.limit ?? 0)} на один файл`;
    if (d.why === 'count') return `сверх ${d.limit} файлов в одном письме`;
    if (d.why === 'parts') return `в письме больше ${d.limit} частей, эти не прочитаны`;
    return 'обрезан: письмо кончается посреди файла';
  };
  return dropped.map((d) => `- ${d.file}: ${why(d)}`).join('\n');
}

/** The refusal's reason and hint in the message's language. */
function explain(lang: Lang, p: Problem): { reason: string; hint: string } {
  const list = (xs: string[], none: string) => (xs.length ? xs.join(', ') : none);
  if (lang === 'en') {
    switch (p.code) {
      case 'staff-unverified': return { reason: `mail from the staff address ${p.address} did not pass our mail server's DKIM/DMARC check`, hint: 'If you sent it, your mail server may not sign mail: ask the administrator. If you did not, someone is using your address.' };
      case 'ambiguous': return { reason: `the decision could not be read unambiguously (${p.detail})`, hint: 'Write one decision on the first line, e.g. "approved, amount 1 500 000" or "declined".' };
      case 'no-record': return { reason: p.ambiguousNames.length ? `the client's name matches several records (${p.ambiguousNames.join(', ')})` : p.unknownRefs.length ? `there is no record ${p.unknownRefs.join(', ')}` : 'no record found: neither a reference like [DL-2026-00042] nor a client name Dossier knows', hint: 'Keep the tag like [DL-2026-00042] in the subject when you forward the decision.' };
      case 'no-deciding-party': return { reason: p.forwardedFrom ? `the forwarded mail is from ${p.forwardedFrom}, which is not a recipient of ${p.ref}` : 'no forwarded bank or insurer mail was found to tell whose decision this is', hint: `Forward the bank's own email (not a copy of its text), or add its address to the party (dossier party import … --update). Recipients of ${p.ref}: ${list(p.recipients, 'none')}.` };
      case 'no-decision-fields': return { reason: `${p.type} v${p.version} has no ${p.fields.join(', ')} field for a ${p.kind}`, hint: 'Add the decision fields to the schema for this kind of recipient (and their roles in field-schemas/roles.yaml).' };
      case 'error': return { reason: p.message.replace(/\.$/, ''), hint: p.hint };
      case 'too-large': return { reason: `the message is ${mbText(p.size)}, over the ${mbText(p.limit)} a message may have, so it was not read`, hint: 'Send the files in several smaller messages, or as a link to a file share.' };
      case 'closed-record': return { reason: `${p.ref} is closed (${p.status}): it takes no more documents`, hint: 'If this concerns a new matter, write to your contact without the reference; they will open a new one.' };
    }
  }
  switch (p.code) {
    case 'staff-unverified': return { reason: `письмо с адреса сотрудника ${p.address} не прошло проверку DKIM/DMARC нашего почтового сервера`, hint: 'Если его отправили вы, возможно, ваш почтовый сервер не подписывает письма: обратитесь к администратору. Если нет — кто-то пользуется вашим адресом.' };
    case 'ambiguous': return { reason: 'не удалось однозначно прочитать решение', hint: 'Напишите одно решение в первой строке, например «одобрено, сумма 1 500 000» или «отказ».' };
    case 'no-record': return { reason: p.ambiguousNames.length ? `имя клиента подходит к нескольким делам (${p.ambiguousNames.join(', ')})` : p.unknownRefs.length ? `дела ${p.unknownRefs.join(', ')} нет` : 'дело не найдено: в письме нет ни номера вида [DL-2026-00042], ни известного имени клиента', hint: 'Оставляйте в теме пометку вида [DL-2026-00042], когда пересылаете решение.' };
    case 'no-deciding-party': return { reason: p.forwardedFrom ? `пересланное письмо отправлено с адреса ${p.forwardedFrom}, а он не принадлежит ни одному получателю пакетов по делу ${p.ref}` : 'не найдено пересланное письмо банка или страховщика, по которому видно, чьё это решение', hint: `Перешлите само письмо банка (а не копию его текста) или добавьте его адрес к участнику (dossier party import … --update). Получатели по делу ${p.ref}: ${list(p.recipients, 'нет')}.` };
    case 'no-decision-fields': return { reason: `в схеме ${p.type} v${p.version} нет полей ${p.fields.join(', ')} для участника вида ${p.kind}`, hint: 'Добавьте поля решения в схему для этого вида получателей (и их роли в field-schemas/roles.yaml).' };
    case 'error': return { reason: `решение не применено (${p.message.replace(/\.$/, '')})`, hint: p.hint };
    case 'too-large': return { reason: `письмо размером ${mbText(p.size)} больше допустимых ${mbText(p.limit)}, поэтому оно не прочитано`, hint: 'Пришлите файлы несколькими письмами поменьше или ссылкой на файловое хранилище.' };
    case 'closed-record': return { reason: `дело ${p.ref} закрыто (${p.status}) и документы к нему больше не принимаются`, hint: 'Если речь о новом деле, напишите своему контакту без номера дела — он заведёт новое.' };
  }
}

export function createNotifier(app: App, c: DbClient, actor: Actor, m: ParsedMessage): Notifier {
  const lang: Lang = app.config.notifications.language ?? app.config.language;
  const outbox: OutboxRow[] = [];
  const dir = path.join(app.templatesDir, '_notify', lang);
  /** `<lang>/<type>/<name>` when the record type has its own wording, else `<lang>/<name>`. */
  const template = (name: string, type?: string): { text: string; name: string } => {
    const own = type ? source(path.join(dir, type, name)) : null;
    if (own !== null) return { text: own, name: `_notify/${lang}/${type}/${name}` };
    const text = source(path.join(dir, name));
    if (text === null) throw new Error(`There is no notification template ${path.join(dir, name)}`);
    return { text, name: `_notify/${lang}/${name}` };
  };
  const render = (name: string, specials: Record<string, string>, type?: string) => {
    const t = template(name, type);
    const data: RenderData = { values: {}, fields: new Map(), specials, lang };
    return renderText(t.text, data, { name: t.name }).trim();
  };
  const threading = m.messageId ? { inReplyTo: m.messageId, references: [...m.references, m.messageId] } : {};
  const mail = async (input: Omit<MailInput, 'automatic'>) => void outbox.push(await enqueueMail(app, c, actor, { ...input, subject: input.subject.slice(0, 250), automatic: true }));
  /** The paragraph naming the files not taken, appended to an answer to the sender ('' when none). */
  const droppedNote = () => {
    if (!m.dropped.length) return '';
    state.droppedTold = true;
    return '\n\n' + render('dropped.txt.hbs', { $dropped: droppedLines(lang, m.dropped) });
  };
  const state = { droppedTold: false };
  const statusLabel = (record: RecordFact, s: string) => app.config.recordTypes[record.type]?.statuses[s]?.[lang] ?? s;

  return {
    lang,
    outbox,
    get droppedTold() {
      return state.droppedTold;
    },
    async tellDropped(record) {
      if (!m.from?.address || !m.dropped.length || state.droppedTold) return;
      const text = render('dropped.txt.hbs', { $dropped: droppedLines(lang, m.dropped) });
      await mail({ recordId: record.id, partyId: null, kind: 'confirmation', to: [m.from.address], subject: `Re: ${withoutTags(m.subjectCore)} ${subjectTag(record.ref)}`, text, ...threading });
      state.droppedTold = true;
    },
    async confirmDecision(record, d) {
      if (!m.from?.address) return;
      const status = d.statusTo
        ? `${statusLabel(record, d.statusFrom)} → ${statusLabel(record, d.statusTo)}`
        : `${statusLabel(record, d.statusFrom)} (${lang === 'ru' ? (d.statusKept === 'not-all' ? 'не изменён: решили ещё не все' : d.statusKept === 'no-transition' ? 'не изменён: такой переход не предусмотрен' : 'не изменён') : d.statusKept === 'not-all' ? 'unchanged: not everyone has decided yet' : d.statusKept === 'no-transition' ? 'unchanged: that transition is not allowed' : 'unchanged'})`;
      const client = d.client ? (lang === 'ru' ? `${d.client.name} — уведомлён` : `${d.client.name} — notified`) : lang === 'ru' ? 'у дела нет клиента для уведомления' : 'no client on the record to notify';
      const text = render('confirmation.txt.hbs', { $ref: record.ref, $party_name: d.party.name, $decision_label: LABELS[lang][d.command.decision], $amount: d.amount, $comment: d.command.comment ?? '', $status_line: status, $client_line: client, $original_subject: m.subject }) + droppedNote();
      await mail({ recordId: record.id, partyId: null, kind: 'confirmation', to: [m.from.address], subject: `Re: ${subjectTag(record.ref)} ${withoutTags(m.subjectCore)}`, text, ...threading });
    },
    async refuse(record, problem) {
      if (!m.from?.address) return;
      const { reason, hint } = explain(lang, problem);
      const specials = { $ref: record?.ref ?? '—', $reason: reason, $hint: hint, $original_subject: m.subject, $subject_core: m.subjectCore };
      await mail({ recordId: record?.id ?? null, partyId: null, kind: 'confirmation', to: [m.from.address], subject: render('refusal.subject.hbs', specials), text: render('refusal.txt.hbs', specials), ...threading });
    },
    async acknowledgeDocuments(record, party, files, note) {
      if (!m.from?.address) return;
      const specials = { $ref: record.ref, $files: files.join(', '), $party_name: party.name, $note: cut(note, 2000) };
      await mail({ recordId: record.id, partyId: party.id, kind: 'acknowledgement', to: [m.from.address], subject: `Re: ${withoutTags(m.subjectCore)} ${subjectTag(record.ref)}`, text: render('documents-ack.txt.hbs', specials, record.type) + droppedNote(), ...threading });
    },
    async noticeParticipants(record, party, files, note) {
      const to = [...new Set(record.parties.filter((p) => p.role === 'participant' && p.key !== party.key).flatMap((p) => p.emails))];
      if (!to.length) return;
      const specials = { $ref: record.ref, $files: files.join(', '), $party_name: party.name, $note: cut(note, 2000) };
      await mail({ recordId: record.id, partyId: null, kind: 'notification', to, subject: `${subjectTag(record.ref)} ${render('documents-notify.subject.hbs', specials, record.type)}`, text: render('documents-notify.txt.hbs', specials, record.type) });
    },
    async tellClient(record, d) {
      const client = d.client;
      if (!client) return false;
      const specials = { $ref: record.ref, $decision: d.command.decision, $amount: d.amount, $comment: d.command.comment ?? '', $party_name: d.party.name };
      if (client.emails.length) {
        const subject = `${subjectTag(record.ref)} ${render('decision-client.subject.hbs', specials, record.type)}`;
        await mail({ recordId: record.id, partyId: client.id, kind: 'notification', to: client.emails, subject, text: render('decision-client.txt.hbs', specials, record.type) });
      }
      if (client.phone) await queueSms(c, { recordId: record.id, partyId: client.id, to: client.phone, body: render('decision-sms.txt.hbs', specials, record.type) });
      return true;
    },
  };
}
