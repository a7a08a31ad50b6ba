import type { Language } from '../config/schema.js';

// Everything a person reads in a report — section and sheet names, column headers, chart titles, the
// About sheet, the terminal's headings — in the configured language (`language:`, Russian by default
// for the consultancies and brokers that use Dossier). Codes stay codes (deal, signed, bank-sever,
// applied), as they are typed on the command line; the configured labels beside them are translated.

export interface ReportTexts {
  sections: Record<'statuses' | 'times' | 'decisions' | 'outbox' | 'intake' | 'promises' | 'evidence', string>;
  col: {
    type: string; status: string; label: string; final: string; records: string; party: string; name: string; decisions: string;
    medianDecision: string; p90Decision: string; finals: string; medianFinal: string; p90Final: string;
    approved: string; declined: string; moreInfo: string; total: string; measure: string; value: string; outcome: string; messages: string;
    step: string; promised: string; answered: string; onTime: string; medianWorkingDays: string; waiting: string; overdue: string;
    method: string; similarity: string; recordA: string; fileA: string; recordB: string; fileB: string;
  };
  short: { medianDecision: string; p90Decision: string; medianFinal: string; p90Final: string; medianWorkingDays: string };
  yes: string;
  allParties: string;
  outbox: { messages: string; avgAttempts: string; sentWithTime: string; median: string; p90: string; avg: string };
  chart: { byStatus: (type: string) => string; medianPer: (type: string) => string };
  about: { sheet: string; title: string; generated: string; type: string; since: string; all: string; beginning: string; toDecision: [string, string]; toFinal: [string, string]; perParty: [string, string] };
  terminal: { heading: (what: string, since: string, at: string) => string; dealsAndClaims: string; since: (at: string) => string; empty: { times: string; decisions: string; other: string }; footnote: string };
}

const ru: ReportTexts = {
  sections: { statuses: 'Статусы', times: 'Сроки', decisions: 'Решения', outbox: 'Отправка', intake: 'Входящие', promises: 'Обещанные сроки', evidence: 'Повторные файлы' },
  col: {
    type: 'тип', status: 'статус', label: 'название', final: 'итоговый', records: 'записей', party: 'сторона', name: 'наименование', decisions: 'решений',
    medianDecision: 'медиана дней до решения', p90Decision: 'p90 дней до решения', finals: 'завершено', medianFinal: 'медиана дней до итога', p90Final: 'p90 дней до итога',
    approved: 'одобрено', declined: 'отказ', moreInfo: 'запрос документов', total: 'всего', measure: 'показатель', value: 'значение', outcome: 'итог', messages: 'писем',
    step: 'этап', promised: 'обещано, дн.', answered: 'ответили', onTime: 'в срок', medianWorkingDays: 'медиана раб. дней до ответа', waiting: 'ждём', overdue: 'просрочено',
    method: 'как найдено', similarity: 'сходство', recordA: 'запись', fileA: 'файл', recordB: 'другая запись', fileB: 'её файл',
  },
  short: { medianDecision: 'реш. мед', p90Decision: 'реш. p90', medianFinal: 'итог мед', p90Final: 'итог p90', medianWorkingDays: 'мед. раб. дн.' },
  yes: 'да',
  allParties: '(все)',
  outbox: { messages: 'писем', avgAttempts: 'попыток в среднем (отправленные)', sentWithTime: 'отправлено с временем', median: 'медиана минут до отправки', p90: 'p90 минут до отправки', avg: 'среднее минут до отправки' },
  chart: {
    byStatus: (t) => `Записи по статусам: ${t}`,
    medianPer: (t) => `Медиана дней по ${t === 'deal' ? 'банкам' : t === 'claim' ? 'страховщикам' : 'сторонам'}: ${t}`,
  },
  about: {
    sheet: 'Об отчёте',
    title: 'Отчёт Dossier',
    generated: 'составлен',
    type: 'тип записей',
    since: 'записи созданы с',
    all: 'все',
    beginning: 'с начала',
    toDecision: ['срок до решения', 'от создания записи до первого «одобрено»/«отказ» в разделе банка/страховщика (запрос документов решением не считается)'],
    toFinal: ['срок до итога', 'от создания записи до её первого итогового статуса (recordTypes.<type>.final)'],
    perParty: ['по сторонам', 'срок до итога по стороне считает записи, где она была получателем; строка (все) считает каждую запись один раз'],
  },
  terminal: {
    heading: (what, since, at) => `Отчёт Dossier — ${what}${since} (${at})`,
    dealsAndClaims: 'сделки и убытки',
    since: (at) => `, записи созданы с ${at}`,
    empty: { times: 'Решений и итоговых статусов пока нет.', decisions: 'Решений пока нет.', other: 'Нет данных.' },
    footnote: 'Сроки: дни от создания записи до первого «одобрено»/«отказ» каждого банка/страховщика (решение) и до её первого итогового статуса (итог); мед = медиана.',
  },
};

const en: ReportTexts = {
  sections: { statuses: 'Statuses', times: 'Times', decisions: 'Decisions', outbox: 'Outbox', intake: 'Intake', promises: 'Promises', evidence: 'Reused evidence' },
  col: {
    type: 'type', status: 'status', label: 'label', final: 'final', records: 'records', party: 'party', name: 'name', decisions: 'decisions',
    medianDecision: 'median days to decision', p90Decision: 'p90 days to decision', finals: 'final', medianFinal: 'median days to final', p90Final: 'p90 days to final',
    approved: 'approved', declined: 'declined', moreInfo: 'more_info', total: 'total', measure: 'measure', value: 'value', outcome: 'outcome', messages: 'messages',
    step: 'step', promised: 'promised, days', answered: 'answered', onTime: 'on time', medianWorkingDays: 'median working days to answer', waiting: 'waiting', overdue: 'overdue',
    method: 'method', similarity: 'similarity', recordA: 'record', fileA: 'file', recordB: 'other record', fileB: 'its file',
  },
  short: { medianDecision: 'decision med', p90Decision: 'decision p90', medianFinal: 'final med', p90Final: 'final p90', medianWorkingDays: 'median wd' },
  yes: 'yes',
  allParties: '(all)',
  outbox: { messages: 'messages', avgAttempts: 'average attempts (tried)', sentWithTime: 'sent with a time', median: 'median minutes to send', p90: 'p90 minutes to send', avg: 'average minutes to send' },
  chart: {
    byStatus: (t) => `Records by status: ${t}`,
    medianPer: (t) => `Median days per ${t === 'deal' ? 'bank' : t === 'claim' ? 'insurer' : 'party'}: ${t}`,
  },
  about: {
    sheet: 'About',
    title: 'Dossier report',
    generated: 'generated',
    type: 'record type',
    since: 'records created since',
    all: 'all',
    beginning: 'the beginning',
    toDecision: ['time to decision', "from the record's creation to the first approved/declined in that bank's/insurer's section (a request for documents is not a decision)"],
    toFinal: ['time to final', "from the record's creation to its first final status (recordTypes.<type>.final)"],
    perParty: ['per party', 'time to final per party counts the records it was a recipient of; the (all) row counts each record once'],
  },
  terminal: {
    heading: (what, since, at) => `Dossier report — ${what}${since} (${at})`,
    dealsAndClaims: 'deals and claims',
    since: (at) => `, records created since ${at}`,
    empty: { times: 'No decisions or final statuses yet.', decisions: 'No decisions yet.', other: 'Nothing.' },
    footnote: "Times: days from the record's creation to the first approved/declined of each bank/insurer (decision), and to its first final status (final); med = median.",
  },
};

export function reportTexts(lang: Language | undefined): ReportTexts {
  return lang === 'en' ? en : ru;
}
