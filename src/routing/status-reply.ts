// Reading a manager's status command: the short text a manager writes on top of a forwarded bank or
// insurer decision ("одобрено, сумма 1 500 000", "Отказано. Причина: …", "need more info — …").
// Pure functions. Only the manager's own text comes in; the forwarded original is cut off before.
//
// The reading is deliberately cautious: a status change that nobody meant is worse than a reply
// saying "could not read the command". So two decisions, two approved amounts, a question, or a
// negated refusal come back as 'ambiguous' with a reason, and text without decision words is 'none'.

import { parseMoney } from '../schemas/values.js';
import { INVISIBLE } from '../text/clean.js';

export type Decision = 'approved' | 'declined' | 'more_info';

export interface StatusCommand {
  decision: Decision;
  amount: string | null; // exact decimal "1500000.00" (via parseMoney) when an amount is given
  rate: string | null; // "18.9" when a rate (%) is given
  termMonths: number | null; // "срок 48 мес", "48 months"
  comment: string | null; // the reason / requested documents / the rest of the text, trimmed, one line
  evidence: string; // the line(s) the decision was read from
}

export type ParseOutcome =
  | { kind: 'command'; command: StatusCommand }
  | { kind: 'none' }
  | { kind: 'ambiguous'; reason: string };

// ---------------------------------------------------------------------------------------------
// Limits and small helpers

// A command is a few lines; a long text is a note or a pasted letter, and cutting keeps the regexes cheap.
const MAX_TEXT = 20_000;
// "The first non-empty lines": enough for a decision, a reason and a list of documents.
const MAX_COMMAND_LINES = 8;
const MAX_COMMENT = 1000;
// A command line is short; a longer one is cut, so that the regexes stay cheap on pasted junk.
const MAX_LINE = 2000;
// How far back a word may be to qualify a number or a decision word ("не", "сумма", "под", "взнос").
const LOOK_BACK = 80;
// Put over numbers that are not amounts (dates, phones, rates…), so the amount scan cannot see them.
// A private-use character: neither a letter, a digit nor a space, so it also breaks any number around it.
const MASK = '\uE000';

// Word edges that work for Cyrillic: \b only knows ASCII letters.
const S = '(?<![\\p{L}\\p{N}])';
const E = '(?![\\p{L}\\p{N}])';
const rx = (src: string, flags = 'gu'): RegExp => new RegExp(src, flags);

interface Span {
  start: number;
  end: number;
}

/**
 * Lower case, ё→е, every kind of space a plain space — keeping the length, so that a position found
 * in the normalised line is the same position in the line as written (the comment is cut from that).
 */
function normalize(line: string): string {
  let out = '';
  for (const ch of line) {
    const lower = ch.toLowerCase();
    // A few characters change length when lowered (İ); they are never part of a command word.
    let c = lower.length === ch.length ? lower : ch;
    if (c === 'ё') c = 'е';
    else if (c === '’' || c === '‘') c = "'";
    else if (/\s/u.test(c)) c = ' ';
    out += c;
  }
  return out;
}

function mask(s: string, span: Span): string {
  return s.slice(0, span.start) + MASK.repeat(span.end - span.start) + s.slice(span.end);
}

const overlaps = (a: Span, b: Span): boolean => a.start < b.end && b.start < a.end;

/** The text just before position `i`: the "…$"-anchored checks then cost the same on any line length. */
const tail = (s: string, i: number): string => s.slice(Math.max(0, i - LOOK_BACK), i);

// ---------------------------------------------------------------------------------------------
// Which lines are the command

// The signature starts here; everything below is name, phone and disclaimers.
const SIGNATURE = rx(
  '^(?:--(?:\\s|$)|[—–]\\s*$|_{3,}|[=*]{3,}' +
    '|с\\s+уважением|с\\s+наилучшими\\s+пожеланиями|всего\\s+(?:доброго|хорошего)' +
    '|best\\s+(?:regards|wishes)|kind\\s+regards|warm\\s+regards|many\\s+thanks,?\\s*$|regards(?:[\\s,.!]|$)' +
    '|(?:best|cheers|br|thx)[\\s,.!]*$' +
    '|отправлено\\s+(?:с|со|из|через)\\s|sent\\s+(?:from|with|via)\\s|получено\\s+с\\s' +
    '|(?:get|загрузите|скачайте|download)\\s+outlook)',
  'u',
);
// "Спасибо!" ends a message, but a manager may also start with it; only a closing one is a signature.
const THANKS = /^(?:спасибо|благодарю|thanks|thank\s+you)[\s,.!]*$/u;
// The forwarded or quoted original: nothing from here on is the manager's own text.
const FORWARD = rx(
  '^(?:-{2,}\\s*(?:original\\s+message|forwarded\\s+message|пересылаемое\\s+сообщение|исходное\\s+сообщение|переадресованное\\s+сообщение)' +
    '|begin\\s+forwarded\\s+message|начало\\s+переадресованного\\s+сообщения' +
    '|(?:от|from)\\s*:\\s*.*@' +
    '|on\\s.+wrote:\\s*$|.+\\s(?:пишет|написал\\p{L}*):\\s*$)',
  'u',
);

type Label = 'status' | 'amount' | 'rate' | 'term';
// "Статус:/Status:" and "Сумма:/Amount:" lines count wherever they are in the own text; rate and term
// labels are read the same way because banks' decision templates put them side by side.
const LABELS: ReadonlyArray<readonly [Label, RegExp]> = [
  ['status', /^\s*[-*•]?\s*(?:статус|status|решение(?:\s+(?:банка|страховщика|страховой))?|decision|result|результат)\s*[:\-–—]\s*/u],
  [
    'amount',
    /^\s*[-*•]?\s*(?:(?:одобренная\s+|согласованная\s+)?сумма(?:\s+(?:кредита|выплаты|возмещения|одобрения))?|(?:approved\s+|loan\s+)?amount|лимит|limit)\s*[:\-–—]\s*/u,
  ],
  ['rate', /^\s*[-*•]?\s*(?:(?:процентная\s+)?ставка|(?:interest\s+)?rate)\s*[:\-–—]\s*/u],
  ['term', /^\s*[-*•]?\s*(?:срок(?:\s+кредита)?|term|tenor)\s*[:\-–—]\s*/u],
];

function labelOf(norm: string): { label: Label; end: number } | null {
  for (const [label, re] of LABELS) {
    const m = re.exec(norm);
    if (m) return { label, end: m[0].length };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Decision words

interface Rule {
  decision: Decision;
  src: string;
  // Whether the words are cut out of the comment. Phrases that name what the bank wants
  // ("банк запросил справку 2-НДФЛ") or qualify the decision ("предварительно одобрено") stay in it.
  strip: boolean;
  // Counts only at the start of a line: "Уточнение: …" is a request, "небольшое уточнение" in a note is not.
  lineStart?: boolean;
}

// Documents and information a bank asks for, as word beginnings.
// Not "договор": a contract is signed, not asked for ("нужно подписать договор" is no request).
const DOC_RU = '(?:справк|выписк|копи|скан|паспорт|снилс|трудов|ндфл|подтвержд|уточнени|анкет|отчет|фото|заключени|сертификат|полис|свидетельств|документ|информаци|сведени)\\p{L}*';
const DOC_EN = '(?:statements?|certificates?|proof|cop(?:y|ies)|scans?|passport|2-?ndfl|ndfl|payslips?|confirmation|questionnaire|reports?|photos?|documents?|docs|documentation|info|information|paperwork)';
// Up to a few words between the request and the document ("просит предоставить свежую справку"),
// but no other verb: "нужно подписать договор", "need to sign" are not requests for documents.
const GAP_RU = '(?:(?:(?:предостав|представ|присл|донес|направ|загруз|отправ)\\p{L}*|(?![\\p{L}\\p{N}.,-]*(?:ть|ти|чь)\\s)[\\p{L}\\p{N}.,-]+)\\s+){0,3}?';
const GAP_EN = "(?:(?:to\\s+(?:provide|send|submit|upload|share|bring)|a|an|the|more|additional|extra|further|updated|recent|fresh|new|latest|bank|salary|income|employment|tax|\\p{L}+'s|\\d-?\\p{L}*)\\s+){0,3}?";
const MORE_RU = '(?:(?:доп\\.?|дополнительн\\p{L}*|недостающ\\p{L}*|ещ[её])\\s*)?';
const GENERIC_RU = '(?:документ\\p{L}*|доки|доков|информаци\\p{L}*|сведени\\p{L}*)';

// Order matters only for ties: at the same start the longer match wins, then the earlier rule.
const RULES: Rule[] = [
  // --- approved
  { decision: 'approved', src: 'pre-?approv\\p{L}*', strip: false },
  { decision: 'approved', src: 'предварительн\\p{L}*\\s+(?:одобр|согласов)\\p{L}*', strip: false },
  { decision: 'approved', src: 'одобр(?:ено|ен|ена|ены|или|ил|ила|ило|яем|яет|яют|енн\\p{L}*)', strip: true },
  { decision: 'approved', src: 'одобрени(?:е|я|ем|ю)', strip: true },
  { decision: 'approved', src: 'решени\\p{L}*\\s+об\\s+одобрении', strip: true },
  { decision: 'approved', src: 'согласов(?:ано|ан|ана|аны|али|ал|ала|анн\\p{L}*)', strip: true },
  { decision: 'approved', src: 'утвержд(?:ено|ен|ена|ены|енн\\p{L}*)|утверд(?:или|ил|ила)', strip: true },
  { decision: 'approved', src: 'положительн\\p{L}*\\s+решени\\p{L}*|решени\\p{L}*\\s+положительн\\p{L}*', strip: true },
  { decision: 'approved', src: 'дал[иа]?\\s+добро|добро\\s+дал[иа]?', strip: true },
  { decision: 'approved', src: 'признан\\p{L}*\\s+страхов\\p{L}*(?:\\s+случа\\p{L}*)?|случа\\p{L}*\\s+признан\\p{L}*\\s+страхов\\p{L}*', strip: true },
  { decision: 'approved', src: 'approved|approval|accepted|positive\\s+decision', strip: true },
  // --- declined
  // "отказ от страховки" is the client giving up insurance, not the bank's refusal.
  { decision: 'declined', src: 'отказ(?:ано|али|ал|ала|ом)?(?!\\s+от' + E + ')|отказн\\p{L}*|отказыва(?:ют|ем|ет)', strip: true },
  { decision: 'declined', src: 'отклон(?:ено|ена|ен|ены|или|ил|ила|ение|ения|ением)', strip: true },
  { decision: 'declined', src: 'отрицательн\\p{L}*\\s+решени\\p{L}*|решени\\p{L}*\\s+отрицательн\\p{L}*', strip: true },
  { decision: 'declined', src: '(?:случа\\p{L}*\\s+)?не\\s+признан\\p{L}*\\s+страхов\\p{L}*(?:\\s+случа\\p{L}*)?', strip: true },
  {
    decision: 'declined',
    src: 'declined?|declines|rejected|rejection|rejects?|refused|refusal|refuses?|denied|denial|turned\\s+down|negative\\s+decision',
    strip: true,
  },
  // --- more information: the request itself, cut from the comment
  { decision: 'more_info', src: `(?:за|до)?запрос\\p{L}*\\s+${MORE_RU}${GENERIC_RU}`, strip: true },
  { decision: 'more_info', src: 'дозапрос\\p{L}*', strip: true },
  { decision: 'more_info', src: `(?:нужн\\p{L}*|нужен|требу\\p{L}*|необходим\\p{L}*)\\s+${MORE_RU}${GENERIC_RU}`, strip: true },
  { decision: 'more_info', src: `(?:доп\\.?|дополнительн\\p{L}*)\\s*${GENERIC_RU}`, strip: true },
  { decision: 'more_info', src: '(?:на\\s+)?уточнени\\p{L}*', strip: true, lineStart: true },
  { decision: 'more_info', src: 'need(?:s|ed)?\\s+more\\s+(?:info|information|documents|docs|details)', strip: true },
  { decision: 'more_info', src: '(?:more|additional|extra|further|missing|pending)\\s+(?:info|information|documents?|docs|documentation|paperwork)', strip: true },
  {
    decision: 'more_info',
    src: '(?:request(?:s|ed)?|require[sd]?|need(?:s|ed)?)\\s+(?:(?:more|additional|extra|further)\\s+)?(?:documents|docs|documentation|info|information|paperwork)',
    strip: true,
  },
  { decision: 'more_info', src: '(?:documents?|docs|info|information|paperwork)\\s+(?:requested|required|needed|pending)', strip: true },
  { decision: 'more_info', src: '(?:document|info|information)\\s+request', strip: true },
  { decision: 'more_info', src: `${DOC_EN}\\s+(?:(?:is|are|was|were)\\s+)?(?:requested|required|needed|missing)`, strip: false },
  // --- more information: a request naming what is wanted; the whole phrase stays in the comment
  {
    decision: 'more_info',
    src: `(?:нужн[аоы]?|нужен|требу(?:ет|ют)ся|необходим[аоы]?|прос(?:ит|ят|или|ил|ила)|(?:за|до)?запр(?:ос|аш)\\p{L}*)(?!\\s+ли${E})\\s+${GAP_RU}${DOC_RU}`,
    strip: false,
  },
  {
    decision: 'more_info',
    src: `(?:ask(?:s|ed|ing)?|request(?:s|ed|ing)?|require[sd]?|need(?:s|ed)?|want(?:s|ed)?)\\s+(?:for\\s+)?${GAP_EN}${DOC_EN}${E}`,
    strip: false,
  },
];
const RULE_RES = RULES.map((r) => rx(`${S}(?:${r.src})${E}`));

// Before a word: a negation ("не одобрено", "not approved", "wasn't approved"). Group 1 or 2 set means
// "not yet" — still pending, not a decision at all.
const NEGATION_BEFORE = rx(
  '(?:^|[^\\p{L}])(?:(пока|еще|все\\s+еще|still)\\s+)?(?:не|нет|not|no|never)\\s+(yet\\s+)?(?:(?:был[аои]?|будет|было|been|be|was|were|is|are|yet|получил\\p{L}*|получен\\p{L}*|got|get)\\s+){0,2}$' +
    "|n't\\s+(yet\\s+)?(?:(?:been|be|yet|get|got)\\s+){0,2}$",
  'u',
);
// "без доп. документов", "without more documents": a request that is not made.
const WITHOUT_BEFORE = /(?:^|[^\p{L}])(?:без|without)\s+$/u;
// Before a word: it is awaited or asked for, not given ("ждём одобрения", "pending approval").
const WAITING_BEFORE = rx(
  '(?:^|[^\\p{L}])(?:на|для|до|ожида\\p{L}*|жд(?:ем|ет|ут|у)|в\\s+ожидании|pending|awaiting|await|waiting\\s+for|for|under|seeking|subject\\s+to|sent\\s+for|submitted\\s+for)\\s+$',
  'u',
);
// After a word: still pending ("одобрение ожидается", "approval pending", "не одобрено пока"). For a verb
// it only counts after a negation: "approved pending documents" is an approval with a condition.
const NOUN = /^(?:approval|одобрени|решени)/u;
const WAITING_AFTER = /^\s+(?:is\s+|are\s+)?(?:pending|expected|required|needed|requested|process|yet|ожида\p{L}*|пока(?![\p{L}])|еще(?![\p{L}]))/u;
// After a word: "одобрения нет", "approval not granted" — probably a refusal, but not said as one.
const DENIED_AFTER = /^\s+(?:(?:так\s+и\s+)?нет(?![\p{L}])|не\s+(?:получен\p{L}*|дали|было|пришл\p{L}*)|(?:was\s+|is\s+)?not\s+(?:granted|received|given))/u;
// "Documents accepted" and "accepted for review" are receipts, not decisions.
const RECEIPT_BEFORE = /(?:^|[^\p{L}])(?:documents?|docs|papers|application)\s+(?:(?:were|was|have\s+been|has\s+been)\s+)?$/u;
const RECEIPT_AFTER = /^\s+for\s+(?:review|consideration|processing)/u;
// "Документы не нужны", "no more documents needed".
const NOT_NEEDED_AFTER = /^\s+(?:уже\s+|больше\s+)?(?:не\s+(?:нужн|требу)|not\s+(?:needed|required)|no\s+longer)/u;
const QUESTION_AFTER = /^\s*\?|^\s+(?:или\s+нет|or\s+not)(?![\p{L}])/u;
const LINE_START = /^[\s\p{P}\p{S}]*(?:(?:статус|status|решение|decision)\s*[:\-–—]?\s*)?$/u;

interface Mention extends Span {
  decision: Decision;
  strip: boolean;
  // clear: a decision; ignored: words that decide nothing (pending, receipt);
  // unclear: decision words that cannot be read either way (a question, "не отказ").
  status: 'clear' | 'ignored' | 'unclear';
  /** The words were asked about ("одобрено?"), not said. */
  question?: boolean;
  words: string;
  reason?: string;
}

function findMentions(norm: string): Mention[] {
  const raw: Array<Span & { rule: number }> = [];
  RULE_RES.forEach((re, rule) => {
    re.lastIndex = 0;
    for (const m of norm.matchAll(re)) raw.push({ start: m.index, end: m.index + m[0].length, rule });
  });
  // Overlapping matches ("запросили доп. документы" is two rules): earliest, then longest, then rule order.
  raw.sort((a, b) => a.start - b.start || b.end - b.start - (a.end - a.start) || a.rule - b.rule);
  const kept: typeof raw = [];
  for (const r of raw) if (!kept.some((k) => overlaps(k, r))) kept.push(r);

  const mentions: Mention[] = [];
  for (const k of kept) {
    const rule = RULES[k.rule];
    if (!rule) continue;
    const before = tail(norm, k.start);
    const after = norm.slice(k.end, k.end + LOOK_BACK);
    if (rule.lineStart && !LINE_START.test(norm.slice(0, k.start))) continue;
    const words = norm.slice(k.start, k.end);
    const mention: Mention = { start: k.start, end: k.end, decision: rule.decision, strip: rule.strip, status: 'clear', words };
    const neg = NEGATION_BEFORE.exec(before);
    if (QUESTION_AFTER.test(after)) {
      mention.status = 'unclear';
      mention.question = true;
      mention.reason = `"${words}?" reads as a question, not a decision`;
    } else if (rule.decision === 'more_info') {
      // "не нужны документы" / "без доп. документов": no request at all.
      if (neg || WITHOUT_BEFORE.test(before) || NOT_NEEDED_AFTER.test(after)) mention.status = 'ignored';
    } else if (neg) {
      // The negation is part of what was said (and is cut from the comment with the word).
      let start = k.start - before.length + neg.index;
      while (start < k.start && !/\p{L}/u.test(norm[start] ?? '')) start++;
      while (start > 0 && /\p{L}/u.test(norm[start - 1] ?? '')) start--; // "wasn't": back to the word's start
      mention.start = start;
      mention.words = norm.slice(start, k.end);
      if (neg[1] || neg[2] || neg[3] || WAITING_AFTER.test(after)) mention.status = 'ignored'; // "пока не одобрили"
      else if (rule.decision === 'approved') mention.decision = 'declined'; // "не одобрено" is a refusal
      else {
        mention.status = 'unclear';
        mention.reason = `"${mention.words}" negates a refusal without saying what was decided`;
      }
    } else if (WAITING_BEFORE.test(before) || (NOUN.test(words) && WAITING_AFTER.test(after))) {
      mention.status = 'ignored';
    } else if (rule.decision === 'approved' && (RECEIPT_AFTER.test(after) || (words === 'accepted' && RECEIPT_BEFORE.test(before)))) {
      mention.status = 'ignored';
    } else if (rule.decision === 'approved' && DENIED_AFTER.test(after)) {
      mention.status = 'unclear';
      mention.reason = `"${words}" with a negation after it does not say clearly what was decided`;
    }
    mentions.push(mention);
  }
  return mentions;
}

// ---------------------------------------------------------------------------------------------
// Numbers: what is not an amount, rates, terms, amounts

// Numbers that are never amounts; masked before anything else is looked for.
const NOISE: RegExp[] = [
  /(?<!\d)\d{1,2}[./-]\d{1,2}[./-]\d{2,4}(?!\d)/gu, // 21.11.2026, 21/11/26
  /(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)/gu, // 2026-11-21
  rx('(?<!\\d)\\d{1,2}\\s+(?:январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\\p{L}*\\.?(?:\\s+\\d{4})?'),
  /(?<!\d)(?:19|20)\d{2}\s*(?:г\.|г(?![\p{L}])|год\p{L}*)/gu, // "в 2026 году"
  /(?<!\d)\d{1,2}:\d{2}(?!\d)/gu, // 18:00
  // Russian phones, with or without separators: +7 (916) 123-45-67, 8 800 555 35 35.
  /(?:\+\s*7|(?<![\d\p{L}])8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]?\d{2}[\s-]?\d{2}(?!\d)/gu,
  /\+\d[\d\s()-]{6,}\d/gu, // other international phones
  /\d{15,}/gu, // account numbers (20 digits), card numbers
  // Numbered things: № 123, #45, ИНН …, заявка 1234567, тел. …
  rx(`(?:№|#|${S}(?:инн|кпп|огрн|бик|id|ref|р/с|л/с|счет\\p{L}*|заявк\\p{L}*|договор\\p{L}*|тел\\p{L}*|phone|tel|no)${E}\\.?)\\s*[:\\-]?\\s*\\d[\\d\\s-]*\\d|(?:№|#)\\s*\\d`),
  /(?<![\p{L}\p{N}])\d+-\p{L}+/gu, // 2-НДФЛ, 3-х
  /(?<![\p{L}\p{N}])\d+\s*(?:ндфл|ndfl)/gu, // "2 НДФЛ"
  /\p{L}+(?:-\d+)+/gu, // DL-2026-00042
  rx('\\d+\\s*(?:дн\\p{L}*|день|days?|недел\\p{L}*|weeks?|раз\\p{L}*|шт\\.?|стр\\p{L}*|лист\\p{L}*|pages?|чел\\p{L}*)(?![\\p{L}])'),
];

const RATE_WORD = '(?:под|по\\s+ставке|ставк\\p{L}*|at|rate|interest(?:\\s+rate)?)';
const RATE_NUMBER = '(?<![\\p{N}.,])(\\d{1,2}(?:[.,]\\d{1,3})?)';
// "18,9%", "под 18,9% годовых", "at 18.9% p.a.", "18.9 процентов".
const RATE_WITH_SIGN = rx(
  `(?:(${S}${RATE_WORD}${E})\\s*[:\\-–—]?\\s*|@\\s*)?${RATE_NUMBER}\\s*(?:%|процент\\p{L}*|percent|(годовых))` +
    '(?:\\s*(?:годовых|годовой|годовая|в\\s+год|p\\.?\\s?a\\.?|per\\s+annum|annual(?:ly)?|apr)(?![\\p{L}]))?',
);
// "под 18,9", "ставка: 18.9" — a rate word makes a bare number a rate.
const RATE_BARE = rx(
  `(${S}(?:под|по\\s+ставке|ставк\\p{L}*|rate|interest\\s+rate)${E})\\s*[:\\-–—]?\\s*${RATE_NUMBER}(?![\\p{N}.,%])` +
    '(?!\\s*(?:млн|миллион|тыс|руб|₽|мес|лет|год|month|year|k|m)(?![\\p{L}]))',
);
// Percentages that are not the interest rate: full cost of credit, fees, down payment.
const NOT_RATE_BEFORE = /(?:пск|полн\p{L}*\s+стоимост\p{L}*|комисси\p{L}*|взнос\p{L}*|скидк\p{L}*|дисконт\p{L}*|страхов\p{L}*|первоначальн\p{L}*|ltv|fee|commission|discount|down\s+payment|insurance)[^,;.]*$/u;

// "срок 48 мес", "на 60 месяцев", "48 months", "на 5 лет".
const TERM = rx(
  `(?:(${S}(?:срок\\p{L}*(?:\\s+на)?|term|tenor|на|for|over|period)${E})\\s*[:\\-–—]?\\s*)?(?<![\\p{N}.,])(\\d{1,3}(?:[.,]\\d)?)\\s*(мес\\p{L}*\\.?|months?|mos?\\.?|лет|год(?:а|ов)?|years?|yrs?\\.?)(?![\\p{L}])`,
);
// "срок 48", "Срок: 60" — months by default.
const TERM_BARE = rx(`(${S}(?:срок\\p{L}*|term|tenor)${E})\\s*[:\\-–—]?\\s*(?<![\\p{N}.,])(\\d{1,3})(?![\\p{N}.,%])(?!\\s*(?:млн|миллион|тыс|руб|₽|k|m)(?![\\p{L}]))`);
// A period a document covers ("2-НДФЛ за 6 месяцев", "for the last 6 months") or an experience, not the loan term.
const NOT_TERM_BEFORE = /(?:за|последн\p{L}*|last|past|within|течение|от|from|least|менее|стаж\p{L}*|experience)[^,;.]{0,15}$/u;

// Amounts in any form parseMoney accepts: "1 500 000,00 руб.", "1,5 млн", "₽1,500,000", "RUB 1500000", "200 тыс.".
const MONEY = rx(
  '(?<![\\p{L}\\p{N}.,])(?:(₽|\\$|€|руб\\.?|rub|rur|usd|eur)\\s?)?' +
    '(\\d{1,3}(?:([ .,])\\d{3})(?:\\3\\d{3})*(?:[.,]\\d{1,2})?|\\d+(?:[.,]\\d{1,2})?)(?![\\p{N}])' +
    '(?:\\s?(млн\\.?|миллион\\p{L}*|mln\\.?|million\\p{L}*|тыс\\.?|тысяч\\p{L}*|т\\.\\s?р\\.?|k|m)(?![\\p{L}]))?' +
    '(?:\\s?(₽|руб\\p{L}*\\.?|р\\.|р(?![\\p{L}/])|rub|rur|r?oubles?|rubles?|usd|eur|\\$|€)(?![\\p{L}]))?',
);
// Words that introduce an amount: "сумма", "на сумму", "на", "в размере", "amount", "for".
const AMOUNT_WORD_BEFORE = rx(
  '(?:^|[^\\p{L}])((?:одобренн\\p{L}*\\s+)?сумм\\p{L}*(?:\\s+к\\s+выдаче)?|в\\s+сумме|к\\s+выдаче|на\\s+сумму|на|в\\s+размере|размер\\p{L}*|лимит\\p{L}*|выплат\\p{L}*|возмещени\\p{L}*|amount(?:\\s+of)?|for|of|limit|sum|payout)\\s*[:\\-–—]?\\s*$',
  'u',
);
// Other sums an approval may mention: a down payment, a monthly payment, a fee, the income. They stay in the comment.
const NOT_AMOUNT_BEFORE = /(?:взнос\p{L}*|комисси\p{L}*|плат[её]ж\p{L}*|доход\p{L}*|зарплат\p{L}*|страховк\p{L}*|преми\p{L}*|fee|commission|payment|income|salary|insurance|premium)[^,;.\d]{0,20}$/u;
const ID_BEFORE = /(?:№|#|номер\p{L}*|заявк\p{L}*|договор\p{L}*|id|ref|инн|счет\p{L}*|тел\p{L}*)\s*[:\-–—]?\s*$/u;

interface Found extends Span {
  value: string;
  from: number; // where the phrase starts, with its keyword ("на 1,5 млн"), cut from the comment
  keyword: boolean;
}

/** Finds every match of `re` in `s`, masking them in `s`; returns what was found and the masked text. */
function take(s: string, re: RegExp): { found: RegExpExecArray[]; masked: string } {
  const found: RegExpExecArray[] = [];
  let masked = s;
  re.lastIndex = 0;
  for (const m of s.matchAll(re)) {
    // Matches of this same pass do not overlap; earlier passes are already masked in `s`.
    found.push(m as RegExpExecArray);
    masked = mask(masked, { start: m.index, end: m.index + m[0].length });
  }
  return { found, masked };
}

/** "18,90" → "18.9", "19,0" → "19": the rate as a plain decimal without trailing zeros. */
function rateText(raw: string): string | null {
  const t = raw.replace(',', '.').replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  const n = Number(t);
  return n >= 0 && n < 100 ? t : null; // 0 % is a real instalment offer
}

function monthsOf(count: string, unit: string): number | null {
  const n = Number(count.replace(',', '.'));
  const months = /^(?:лет|год|year|yr)/u.test(unit) ? n * 12 : n;
  return Number.isInteger(months) && months > 0 && months <= 600 ? months : null;
}

function multiplierWord(raw: string | undefined): string {
  if (!raw) return '';
  return /^(?:млн|миллион|mln|million|m)/u.test(raw) ? ' млн' : ' тыс';
}

interface Numbers {
  money: Found[];
  rates: Array<Found & { keyword: boolean }>;
  terms: Found[];
}

function findNumbers(norm: string, label: Label | null, decisionEnds: number[]): Numbers {
  let s = norm;
  for (const re of NOISE) s = take(s, re).masked;

  const rates: Numbers['rates'] = [];
  for (const re of [RATE_WITH_SIGN, RATE_BARE]) {
    const r = take(s, re);
    for (const m of r.found) {
      const span = { start: m.index, end: m.index + m[0].length };
      const value = rateText(m[2] ?? '');
      if (value && !NOT_RATE_BEFORE.test(tail(norm, m.index))) {
        rates.push({ ...span, from: span.start, value, keyword: Boolean(m[1] || m[3] || re === RATE_BARE) });
      }
    }
    s = r.masked;
  }

  const terms: Found[] = [];
  for (const re of [TERM, TERM_BARE]) {
    const r = take(s, re);
    for (const m of r.found) {
      const keyword = Boolean(m[1]) || label === 'term';
      const numberAt = m.index + m[0].indexOf(m[2] ?? '', m[1]?.length ?? 0);
      const months = monthsOf(m[2] ?? '', m[3] ?? 'мес');
      if (months && (keyword || !NOT_TERM_BEFORE.test(tail(norm, numberAt)))) {
        terms.push({ start: m.index, end: m.index + m[0].length, from: m.index, value: String(months), keyword });
      }
    }
    s = r.masked;
  }

  const money: Found[] = [];
  MONEY.lastIndex = 0;
  for (const m of s.matchAll(MONEY)) {
    const [, before, digits = '', sep, mult, after] = m;
    const value = parseMoney(digits + multiplierWord(mult));
    if (!value || value === '0.00') continue;
    const prefix = tail(s, m.index);
    if (ID_BEFORE.test(prefix) || NOT_AMOUNT_BEFORE.test(prefix)) continue;
    const marked = Boolean(before || mult || after); // a currency or "млн/тыс" says it is money
    const word = AMOUNT_WORD_BEFORE.exec(prefix);
    // Right after the decision: "одобрено 1 500 000", "approved: 1,500,000".
    const nextToDecision = decisionEnds.some((end) => end <= m.index && /^[\s:,\-–—!.]*$/u.test(s.slice(end, m.index)));
    const grouped = Boolean(sep); // "2 000 000" is written like money even without a word
    const big = Number(value) >= 1000; // bare "на 5" or "for 3" are counts, not roubles
    const isAmount = marked || label === 'amount' || (big && (Boolean(word) || nextToDecision || grouped));
    if (!isAmount) continue;
    const from = word ? m.index - prefix.length + word.index + word[0].indexOf(word[1] ?? '') : m.index;
    money.push({ start: m.index, end: m.index + m[0].length, from, value, keyword: Boolean(word) });
  }
  return { money, rates, terms };
}

// ---------------------------------------------------------------------------------------------
// The comment

const GREETING = /^(?:добрый\s+(?:день|вечер)|доброе\s+утро|здравствуйте|привет|коллеги|hi|hello|hey|dear\s+\p{L}+|good\s+(?:morning|afternoon|evening))(?:[\s,!.]+(?:коллеги|all|team|everyone|всем))?(?=[\s,!.]|$)[\s,!.]*/iu;
const COMMENT_LABEL = /^(?:причин\p{L}*|основани\p{L}*|reason|комментари\p{L}*|comments?|примечани\p{L}*|note|документы|список\s+документов|documents|docs)\s*[:\-–—]\s*/iu;
// Words that on their own say nothing beyond the decision: "Банк одобрил…" leaves "Банк".
const FILLER = new Set(
  (
    'банк банка банком bank страховщик страховая insurer the a an it клиент клиента клиенту client ура отлично супер great good news хорошие новости новость ' +
    'итак so коллеги решение решения статус status кредит кредита ипотека ипотеку ипотеке loan mortgage заявка заявку заявке ' +
    'application по и а это this нет no and но but has have been was is мы нам we наш наша our всё все all уже already наконец finally got получили есть вот ok ок окей okay'
  ).split(' '),
);

const CUT = '\u0001'; // where words were cut out, until the piece is tidied

function isFiller(s: string): boolean {
  return normalize(s)
    .split(/[^\p{L}\p{N}']+/u)
    .every((w) => w === '' || FILLER.has(w));
}

function tidy(s: string): string {
  return s
    .replace(/\s+/gu, ' ')
    .replace(/\(\s*\)/gu, '')
    .replace(/\s+([,.;:!?])/gu, '$1')
    .replace(/([,;:.])(?:\s*[,;:.])+/gu, '$1')
    .replace(/^(?:[\s,.;:!?\-–—•*·/|]|\d{1,2}[.)]\s)+/u, '')
    .replace(/[\s,.;:!\-–—•*·/|]+$/u, '')
    .trim();
}

function commentPiece(text: string, cuts: Span[]): string | null {
  // Merge overlapping cuts (a decision word and the amount after it can share a keyword), then cut
  // from the end so that earlier positions stay valid.
  const merged: Span[] = [];
  for (const c of [...cuts].sort((a, b) => a.start - b.start)) {
    const last = merged[merged.length - 1];
    if (last && c.start <= last.end) last.end = Math.max(last.end, c.end);
    else merged.push({ ...c });
  }
  let s = text;
  for (const c of merged.reverse()) s = s.slice(0, c.start) + CUT + s.slice(c.end);
  // "Банк отказал, причина…" leaves "Банк, причина…": the subject of the cut words goes with them.
  const lead = s.indexOf(CUT);
  if (lead > 0 && isFiller(s.slice(0, lead))) s = s.slice(lead);
  let piece = tidy(s.replaceAll(CUT, ' '));
  piece = tidy(piece.replace(GREETING, ''));
  piece = tidy(piece.replace(COMMENT_LABEL, ''));
  return isFiller(piece) ? null : piece;
}

// ---------------------------------------------------------------------------------------------
// Reading the command

interface Line {
  text: string; // as written, without invisible characters
  norm: string;
  label: Label | null;
  labelEnd: number;
  mentions: Mention[];
  numbers: Numbers;
}

/** The lines to read: the command part (before the signature) and labelled lines anywhere in the own text. */
function commandLines(ownText: string): Line[] {
  const all = ownText.slice(0, MAX_TEXT).replace(INVISIBLE, '').split(/\r\n|\r|\n/);
  const lines: Line[] = [];
  let inCommand = true;
  let taken = 0;
  for (const whole of all) {
    const text = whole.slice(0, MAX_LINE);
    const norm = normalize(text);
    const trimmed = norm.trim();
    if (FORWARD.test(trimmed)) break;
    if (trimmed === '' || trimmed.startsWith('>')) continue; // blank, or a quoted line
    if (inCommand && (SIGNATURE.test(trimmed) || (taken > 0 && THANKS.test(trimmed)))) inCommand = false;
    const label = labelOf(norm);
    const command = inCommand && taken < MAX_COMMAND_LINES;
    if (command) taken++;
    if (!command && !label) continue;
    const mentions = findMentions(norm);
    const decisionEnds = mentions.filter((m) => m.status === 'clear').map((m) => m.end);
    lines.push({ text, norm, label: label?.label ?? null, labelEnd: label?.end ?? 0, mentions, numbers: findNumbers(norm, label?.label ?? null, decisionEnds) });
  }
  return lines;
}

const distinct = <T>(xs: T[]): T[] => [...new Set(xs)];

export function parseStatusReply(ownText: string): ParseOutcome {
  if (typeof ownText !== 'string' || ownText.trim() === '') return { kind: 'none' };
  const lines = commandLines(ownText);
  const mentions = lines.flatMap((l) => l.mentions);
  const clear = mentions.filter((m) => m.status === 'clear');
  const decisions = distinct(clear.map((m) => m.decision));

  if (decisions.length > 1) {
    const words = distinct(decisions.map((d) => clear.find((m) => m.decision === d)?.words ?? d));
    return { kind: 'ambiguous', reason: `conflicting decisions: ${words.map((w) => `"${w}"`).join(' and ')}` };
  }
  const decision = decisions[0];
  if (!decision) {
    const unclear = mentions.find((m) => m.status === 'unclear');
    return unclear ? { kind: 'ambiguous', reason: unclear.reason ?? 'the decision is unclear' } : { kind: 'none' };
  }

  // A clear decision next to an unclear other one ("одобрено … или всё-таки отказ?") is not a decision.
  const doubt = mentions.find((m) => m.status === 'unclear' && m.question && m.decision !== decision);
  if (doubt) return { kind: 'ambiguous', reason: `"${clear.find((m) => m.decision === decision)?.words ?? decision}" but also ${doubt.reason ?? `"${doubt.words}"`}` };

  // Amounts, rate and term belong to an approval; with a refusal or a request they stay in the comment.
  const approved = decision === 'approved';
  let amount: string | null = null;
  let rate: string | null = null;
  let termMonths: number | null = null;
  if (approved) {
    const amounts = distinct(lines.flatMap((l) => l.numbers.money.map((f) => f.value)));
    if (amounts.length > 1) return { kind: 'ambiguous', reason: `two different amounts: ${amounts.join(' and ')}` };
    amount = amounts[0] ?? null;
    const rates = lines.flatMap((l) => l.numbers.rates);
    rate = (rates.find((r) => r.keyword) ?? (distinct(rates.map((r) => r.value)).length === 1 ? rates[0] : undefined))?.value ?? null;
    const terms = lines.flatMap((l) => l.numbers.terms);
    const term = terms.find((t) => t.keyword) ?? terms[0];
    termMonths = term ? Number(term.value) : null;
  }

  const pieces: string[] = [];
  const evidence: string[] = [];
  for (const line of lines) {
    const cuts: Span[] = [];
    const used = line.mentions.filter((m) => m.status === 'clear' && m.decision === decision);
    for (const m of used) if (m.strip) cuts.push(m);
    // "Это не отказ, а запрос документов": the words that were set aside say nothing in the comment either.
    for (const m of line.mentions) if (m.status === 'unclear' && m.strip) cuts.push(m);
    if (line.label === 'status' || (approved && line.label)) cuts.push({ start: 0, end: line.labelEnd });
    const n = line.numbers;
    const fields = approved ? [...n.money, ...n.rates, ...n.terms] : [];
    for (const f of fields) cuts.push({ start: f.from, end: f.end });
    if (used.length || (approved && n.money.length)) evidence.push(line.text.trim());
    const piece = commentPiece(line.text, cuts);
    if (piece) pieces.push(piece);
  }
  let comment = pieces.join('; ') || null;
  if (comment && comment.length > MAX_COMMENT) comment = comment.slice(0, MAX_COMMENT - 1) + '…';

  return { kind: 'command', command: { decision, amount, rate, termMonths, comment, evidence: evidence.join('\n') } };
}
