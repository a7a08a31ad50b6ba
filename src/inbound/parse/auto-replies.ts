import type { AutoKind } from '../types.js';
import { parseStructured } from './headers.js';
import { MARKER_START } from './subjects.js';

// Automatic mail: bounces, out-of-office and other auto-replies, bulk and list mail.

export const OUT_OF_OFFICE = /^(автоответ|автоматический ответ|нет на месте|отсутствую|out of (the )?office|automatic reply|auto[- ]?reply|autoreply|abwesenheitsnotiz|automatische antwort|réponse automatique)(?![\p{L}\p{N}])/iu; // \b does not work after Cyrillic
export const BOUNCE_SUBJECT = /^(undeliver(ed|able)|delivery (status notification|failure|has failed|failed|delayed)|delayed mail|warning: message .{1,80} delayed|mail delivery (failed|failure)|returned mail|failure notice|non[- ]?delivery|недоставленное сообщение|не удалось доставить|сообщение не доставлено|ошибка доставки)/iu;
export const DAEMON_LOCAL = /^(mailer-daemon|mailerdaemon|mail-daemon|postmaster|mail\.delivery\.(subsystem|system)|mail-delivery-(subsystem|system)|microsoftexchange[0-9a-f]{32})$/i;
// Display names delivery reports are sent under, for the ones with an empty address ("MAILER-DAEMON <>").
export const DAEMON_NAME = /^(mailer[- ]?daemon|mail delivery (system|subsystem)|mail\.delivery\.system|postmaster|система доставки почты|почтовая система)$/i;
export const NOREPLY_LOCAL = /^(no-?reply|do-?not-?reply|donotreply|noreply-.*|notifications?|auto(mailer|responder)?|robot|daemon)$/i;

/**
 * What kind of automatic mail this is, from its headers. `from` is the From address (or the raw
 * header value); when it is empty, the display name of the raw From header is looked at too, since
 * some servers send their reports as "MAILER-DAEMON <>".
 */
export function classifyAuto(headers: Map<string, string[]>, subject: string, from: string | null, contentType: string): AutoKind {
  const first = (name: string): string | null => {
    const v = headers.get(name)?.[0];
    return v === undefined ? null : v.trim().toLowerCase();
  };
  const address = from ? (/<([^<>]*)>/.exec(from)?.[1] ?? from).trim() : '';
  const local = address.includes('@') ? address.slice(0, address.lastIndexOf('@')) : address;
  const ct = parseStructured(contentType);
  const reportType = (ct.params['report-type'] ?? '').toLowerCase();
  const subj = subject.replace(/\s+/g, ' ').trim().replace(MARKER_START, '').trim();

  if (ct.value === 'multipart/report' && reportType.includes('delivery-status')) return 'bounce';
  if (local && DAEMON_LOCAL.test(local)) return 'bounce';
  const rawFrom = headers.get('from')?.[0] ?? '';
  const name = rawFrom.replace(/<[^<>]*>/g, '').replace(/["']/g, '').replace(/\s+/g, ' ').trim();
  if (!local && name && DAEMON_NAME.test(name)) return 'bounce';
  if (DAEMON_NAME.test(name) && BOUNCE_SUBJECT.test(subj)) return 'bounce';
  // A null sender (Return-Path: <>) is what bounces are sent with; an Auto-Submitted report with a
  // delivery-failure subject is one too, even when the Return-Path was lost on the way.
  if (first('return-path') === '<>' && BOUNCE_SUBJECT.test(subj)) return 'bounce';
  if (first('auto-submitted')?.startsWith('auto-replied') && BOUNCE_SUBJECT.test(subj)) return 'bounce';

  if (ct.value === 'multipart/report' && reportType.includes('disposition-notification')) return 'auto-reply'; // read receipts
  const autoSubmitted = first('auto-submitted');
  if (autoSubmitted !== null && !autoSubmitted.startsWith('no')) return 'auto-reply';
  for (const name of ['x-autoreply', 'x-autorespond', 'x-autoresponder']) {
    const v = first(name);
    if (v !== null && v !== 'no' && v !== 'false') return 'auto-reply';
  }
  const precedence = first('precedence');
  if (precedence === 'auto_reply') return 'auto-reply';
  // Exchange stamps X-Auto-Response-Suppress on its own automatic mail, but Outlook also puts it on
  // some ordinary mail: only together with a robot sender.
  if (headers.has('x-auto-response-suppress') && local && NOREPLY_LOCAL.test(local)) return 'auto-reply';
  if (OUT_OF_OFFICE.test(subj)) return 'auto-reply';

  if (precedence === 'bulk' || precedence === 'junk' || precedence === 'list') return 'list';
  if (headers.has('list-id') || headers.has('list-unsubscribe')) return 'list';
  return null;
}
