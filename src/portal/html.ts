// Server-rendered HTML for the portal: one escaping function, one page shell, the words in Russian
// and English. No scripts, no front-end build step: plain forms that work in any browser.

export type Lang = 'ru' | 'en';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);

/** A trusted fragment (already escaped), so that page bodies can be composed without double escaping. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Tagged template: interpolated values are escaped unless they are Html (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    const one = (x: unknown): string => (x instanceof Html ? x.text : Array.isArray(x) ? x.map(one).join('') : x === null || x === undefined || x === false ? '' : esc(x));
    out += one(v) + strings[i + 1]!;
  });
  return new Html(out);
}

const STYLE = `body{font:16px/1.45 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
.ok{color:#176b2c}.missing{color:#a1260d}.muted{color:#666}.notice{background:#eef7ee;border:1px solid #9c9;padding:.6rem .8rem}
.refused{background:#fbeeee;border:1px solid #d99;padding:.6rem .8rem}form{margin:.8rem 0}textarea{width:100%;min-height:6rem}
nav a{margin-right:1rem}`;

/** The page; `here` (a path without query) adds a switch between Russian and English. */
export function page(lang: Lang, title: string, body: Html, opts: { nav?: Html; here?: string } = {}): string {
  const langs = opts.here ? html`<p class="muted" id="lang"><a href="${opts.here}?lang=ru" hreflang="ru">Русский</a> · <a href="${opts.here}?lang=en" hreflang="en">English</a></p>`.text : '';
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><title>${esc(title)} — Dossier</title><style>${STYLE}</style></head>
<body>${opts.nav ? `<nav>${opts.nav.text}</nav>` : ''}<main>${body.text}</main>${langs}</body></html>`;
}

const WORDS = {
  ru: {
    linkRefused: 'Ссылка не действует',
    expired: 'Срок действия этой ссылки истёк.',
    revoked: 'Эта ссылка отозвана.',
    invalid: 'Такой ссылки нет.',
    askNew: 'Попросите новую ссылку у того, кто прислал эту.',
    record: 'Дело',
    status: 'Статус',
    timeline: 'Ход дела',
    stillNeeded: 'Ещё нужны документы',
    nothingNeeded: 'Все нужные документы получены.',
    contact: 'Контакты',
    checklist: 'Что нужно прислать',
    sentSoFar: 'Что вы уже прислали',
    nothingYet: 'Пока ничего.',
    upload: 'Отправить файл',
    uploadButton: 'Отправить',
    uploadHint: 'Файл до',
    message: 'Сообщение',
    messageButton: 'Отправить сообщение',
    received: 'Получено',
    receivedNote: 'Сообщение получено и добавлено к делу.',
    refused: 'Не принято',
    present: 'есть',
    missingWord: 'нет',
    expiredWord: 'устарел',
    rejectedWord: 'отклонён',
    validUntil: 'Ссылка действует до',
    staff: 'Сотрудники',
    login: 'Логин',
    password: 'Пароль',
    signIn: 'Войти',
    signOut: 'Выйти',
    signInRequired: 'Войдите, чтобы смотреть дела.',
    wrongLogin: 'Неверный логин или пароль.',
    search: 'Поиск',
    searchButton: 'Найти',
    noResults: 'Ничего не найдено.',
    values: 'Значения',
    base: 'Общий раздел',
    attachments: 'Вложения',
    packages: 'Пакеты и доставка',
    incoming: 'Входящая почта',
    portalIn: 'Через портал',
    history: 'Журнал изменений',
    overridden: 'переопределено',
    notFound: 'Не найдено',
  },
  en: {
    linkRefused: 'The link does not work',
    expired: 'This link has expired.',
    revoked: 'This link has been revoked.',
    invalid: 'There is no such link.',
    askNew: 'Ask whoever sent it to you for a new link.',
    record: 'Record',
    status: 'Status',
    timeline: 'Progress',
    stillNeeded: 'Documents still needed',
    nothingNeeded: 'Every document needed has arrived.',
    contact: 'Contact',
    checklist: 'What to send',
    sentSoFar: 'What you have sent so far',
    nothingYet: 'Nothing yet.',
    upload: 'Send a file',
    uploadButton: 'Send',
    uploadHint: 'One file of up to',
    message: 'Message',
    messageButton: 'Send the message',
    received: 'Received',
    receivedNote: 'Your message was received and added to the record.',
    refused: 'Not accepted',
    present: 'present',
    missingWord: 'missing',
    expiredWord: 'too old',
    rejectedWord: 'rejected',
    validUntil: 'This link works until',
    staff: 'Staff',
    login: 'Login',
    password: 'Password',
    signIn: 'Sign in',
    signOut: 'Sign out',
    signInRequired: 'Sign in to look records up.',
    wrongLogin: 'Wrong login or password.',
    search: 'Search',
    searchButton: 'Search',
    noResults: 'Nothing found.',
    values: 'Values',
    base: 'Base section',
    attachments: 'Attachments',
    packages: 'Packages and delivery',
    incoming: 'Incoming mail',
    portalIn: 'Through the portal',
    history: 'History',
    overridden: 'overridden',
    notFound: 'Not found',
  },
} as const;

export type Words = Record<keyof (typeof WORDS)['en'], string>;
export const words = (lang: Lang): Words => WORDS[lang];

export function pickLang(query: unknown, fallback: Lang): Lang {
  const q = (query as { lang?: unknown } | undefined)?.lang;
  return q === 'ru' || q === 'en' ? q : fallback;
}

export const sizeText = (n: number): string => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(0)} KB` : `${(n / 1048576).toFixed(1)} MB`);
export const when = (d: Date | string | null | undefined): string => (d ? new Date(d).toISOString().slice(0, 16).replace('T', ' ') : '');
