import { describe, expect, it } from 'vitest';
import { parseStatusReply, type Decision, type StatusCommand } from '../../src/routing/status-reply.js';

/** The command read from `text`; fails the test with the outcome otherwise. */
function command(text: string): StatusCommand {
  const r = parseStatusReply(text);
  if (r.kind !== 'command') throw new Error(`expected a command from ${JSON.stringify(text)}, got ${JSON.stringify(r)}`);
  return r.command;
}

/** The reason given for an ambiguous command; fails the test otherwise. */
function ambiguous(text: string): string {
  const r = parseStatusReply(text);
  if (r.kind !== 'ambiguous') throw new Error(`expected ambiguous from ${JSON.stringify(text)}, got ${JSON.stringify(r)}`);
  return r.reason;
}

const NBSP = '\u00A0';

describe('approvals with an amount', () => {
  // [text, amount, rate, term]
  it.each<[string, string | null, string | null, number | null]>([
    ['одобрено, сумма 1 500 000', '1500000.00', null, null],
    ['Одобрен на 1,5 млн, срок 48 мес', '1500000.00', null, 48],
    ['approved 1,500,000', '1500000.00', null, null],
    ['Статус: одобрено\nСумма: 1 500 000,00 руб.', '1500000.00', null, null],
    ['Status: approved\nAmount: RUB 1500000', '1500000.00', null, null],
    ['согласовано 2 400 000 ₽', '2400000.00', null, null],
    ['Банк одобрил 1 200 000 под 18,9%', '1200000.00', '18.9', null],
    ['одобрили!', null, null, null],
    ['Одобрено 200 тыс.', '200000.00', null, null],
    ['ОДОБРЕНО 1.500.000 РУБ', '1500000.00', null, null],
    ['Одобрено: ₽1,500,000', '1500000.00', null, null],
    ['Одобрено на сумму 1500000 рублей', '1500000.00', null, null],
    [`Одобрено 1${NBSP}500${NBSP}000 руб.`, '1500000.00', null, null],
    ['Одобрена ипотека на 4,2 млн на 20 лет под 6% годовых', '4200000.00', '6', 240],
    ['Одобрено 1,5 млн на 5 лет под 17,5% годовых. Клиент приедет в четверг', '1500000.00', '17.5', 60],
    ['Approved for $1,500,000 at 18.9% p.a. for 48 months', '1500000.00', '18.9', 48],
    ['approved 1,500,000 / 60 months', '1500000.00', null, 60],
    ['Approved: 2.5m, term 36 months, rate 21%', '2500000.00', '21', 36],
    ['Accepted, 500k', '500000.00', null, null],
    ['Утверждено 3 000 000 рублей на 60 месяцев', '3000000.00', null, 60],
    ['Кредитный комитет утвердил лимит 750 000', '750000.00', null, null],
    ['Положительное решение, 1 200 000 р.', '1200000.00', null, null],
    ['Решение положительное. Сумма 1 000 000,50', '1000000.50', null, null],
    ['Банк дал добро на 2 млн', '2000000.00', null, null],
    ['Одобрено 1,5 млн (1 500 000 руб.)', '1500000.00', null, null],
    ['Одобрено\nСумма: 900 000\nСтавка: 19,9%\nСрок: 36', '900000.00', '19.9', 36],
    ['одобрено,сумма 1500000,срок 48', '1500000.00', null, 48],
    ['Выплата согласована: 150 000 руб.', '150000.00', null, null],
    ['Случай признан страховым, выплата 87 500 руб.', '87500.00', null, null],
    ['Одобрено на 2 года, 600 тыс.', '600000.00', null, 24],
    ['Одобренная сумма: 1 300 000', '1300000.00', null, null],
    ['Одобрено в сумме 1 500 000', '1500000.00', null, null],
    ['одобрено. сумма к выдаче 1 450 000', '1450000.00', null, null],
  ])('%j', (text, amount, rate, term) => {
    const c = command(text);
    expect(c.decision).toBe('approved');
    expect(c.amount).toBe(amount);
    expect(c.rate).toBe(rate);
    expect(c.termMonths).toBe(term);
  });

  it('leaves nothing in the comment when every word went into a field', () => {
    expect(command('Одобрен на 1,5 млн, срок 48 мес').comment).toBeNull();
    expect(command('Банк одобрил 1 200 000 под 18,9%').comment).toBeNull();
    expect(command('Кредит одобрен!').comment).toBeNull();
    expect(command('The bank has approved 1,500,000').comment).toBeNull();
  });

  it('keeps the rest of the text as a one-line comment', () => {
    expect(command('Одобрено 1 500 000. Клиент готов подписать в пятницу').comment).toBe('Клиент готов подписать в пятницу');
    expect(command('Одобрено.\nКлиент хочет выдачу до конца месяца.\nПозвоню ему сегодня').comment).toBe(
      'Клиент хочет выдачу до конца месяца; Позвоню ему сегодня',
    );
    expect(command('Предварительно одобрено 3 млн').comment).toBe('Предварительно одобрено');
    expect(command('Pre-approved for 1.5m').comment).toBe('Pre-approved');
  });

  it('gives the decision lines as evidence, without greetings or signature', () => {
    const c = command('Добрый день!\nОдобрено 1 500 000\n\nС уважением,\nИван Петров\n+7 (916) 123-45-67');
    expect(c.evidence).toBe('Одобрено 1 500 000');
    expect(c.comment).toBeNull();
    expect(command('Статус: одобрено\nСумма: 1 500 000,00 руб.').evidence).toBe('Статус: одобрено\nСумма: 1 500 000,00 руб.');
  });

  it('reads ё as е and any letter case', () => {
    expect(command('Утверждён лимит 300 000').decision).toBe('approved');
    expect(command('APPROVED 300,000').amount).toBe('300000.00');
  });
});

describe('numbers that are not amounts', () => {
  it.each([
    'Одобрено, выдача 21.11.2026, тел. 8 800 555 35 35',
    'Одобрено. Счёт 40817810099910004312',
    'Одобрено, звонить клиенту +7 (916) 123-45-67',
    'Одобрено, заявка № 4587123',
    'Одобрено по заявке 4587123',
    'Одобрено, ИНН 7707083893',
    'Одобрено на 48 мес',
    'Одобрено, подписание 25 ноября 2026 в 15:00',
    'Одобрено по сделке DL-2026-00042',
    'Одобрено под 18,9%',
    'Одобрено, нужна ещё подпись, 2 экземпляра',
    'approved, signing on 2026-11-21',
    'Одобрено на 5',
  ])('%j has no amount', (text) => {
    const c = command(text);
    expect(c.decision).toBe('approved');
    expect(c.amount).toBeNull();
  });

  it('does not take a down payment or the full cost of credit for the rate', () => {
    const c = command('Одобрено 2 млн, ставка 18,9%, ПСК 21,3%, первоначальный взнос 20%');
    expect(c.rate).toBe('18.9');
    expect(c.comment).toBe('ПСК 21,3%, первоначальный взнос 20%');
  });

  it('does not take the period of a statement for the loan term', () => {
    expect(command('Одобрено 1 000 000, выписка за 6 месяцев не нужна').termMonths).toBeNull();
  });
});

describe('refusals', () => {
  it.each<[string, string | null]>([
    ['отказ', null],
    ['Отказано. Причина: высокая долговая нагрузка', 'высокая долговая нагрузка'],
    ['Отказ\n\nПричина: негативная кредитная история', 'негативная кредитная история'],
    ['Банк отказал, причина не указана', 'причина не указана'],
    ['Отказали — не прошли скоринг', 'не прошли скоринг'],
    ['Заявка отклонена службой безопасности', 'службой безопасности'],
    ['Отрицательное решение', null],
    ['Решение: отказ', null],
    ['Не одобрено', null],
    ['Банк не одобрил заявку', null],
    ['не согласовано, просят снизить сумму', 'просят снизить сумму'],
    ['Declined. Reason: insufficient income', 'insufficient income'],
    ['Rejected by the bank — DTI too high', 'by the bank — DTI too high'],
    ['The loan was not approved', null],
    ["The loan wasn't approved", null],
    ['Denied', null],
    ['Случай не признан страховым', null],
    ['Страховщик отказал в выплате: событие не является страховым случаем', 'в выплате: событие не является страховым случаем'],
    ['Status: declined\nReason: income not confirmed', 'income not confirmed'],
  ])('%j', (text, comment) => {
    const c = command(text);
    expect(c.decision).toBe('declined');
    expect(c.comment).toBe(comment);
  });

  it('keeps an amount only in the comment', () => {
    const c = command('Отказ. Банк готов одобрить 1 000 000 вместо 2 000 000');
    expect(c).toMatchObject({ decision: 'declined', amount: null, rate: null, termMonths: null });
    expect(c.comment).toBe('Банк готов одобрить 1 000 000 вместо 2 000 000');
    const d = command('Не одобрено 1 500 000 под 18%');
    expect(d).toMatchObject({ decision: 'declined', amount: null, rate: null, comment: '1 500 000 под 18%' });
  });
});

describe('requests for documents', () => {
  it.each<[string, string | null]>([
    ['запрос документов: справка 2-НДФЛ за 6 месяцев', 'справка 2-НДФЛ за 6 месяцев'],
    ['need more info — bank asks for a 2-NDFL', 'bank asks for a 2-NDFL'],
    ['Банк запросил доп. документы:\n- справка 2-НДФЛ за 6 месяцев\n- копия трудовой книжки', 'справка 2-НДФЛ за 6 месяцев; копия трудовой книжки'],
    ['Запросили документы', null],
    ['Нужны документы: выписка по счёту за 12 месяцев', 'выписка по счёту за 12 месяцев'],
    ['Дозапрос: копия паспорта супруги', 'копия паспорта супруги'],
    ['Доп. документы — справка о доходах по форме банка', 'справка о доходах по форме банка'],
    ['Нужна информация о месте работы', 'о месте работы'],
    ['Уточнение: нужен паспорт супруги', 'нужен паспорт супруги'],
    ['Статус: на уточнении', null],
    ['Банк просит предоставить справку 2-НДФЛ', 'Банк просит предоставить справку 2-НДФЛ'],
    ['Requested documents: bank statement for 6 months', 'bank statement for 6 months'],
    ['Additional documents needed: proof of address', 'needed: proof of address'],
    ['Pending documents — employment contract', 'employment contract'],
    ['Bank asks for a bank statement for the last 6 months', 'Bank asks for a bank statement for the last 6 months'],
    ['Statement requested for the last 6 months', 'Statement requested for the last 6 months'],
    ['Status: more info\nThey want payslips', 'They want payslips'],
  ])('%j', (text, comment) => {
    const c = command(text);
    expect(c.decision).toBe('more_info');
    expect(c.comment).toBe(comment);
    expect(c.amount).toBeNull();
    expect(c.termMonths).toBeNull();
  });

  it('reads a negated refusal followed by a request as the request', () => {
    const c = command('Это не отказ, а запрос документов');
    expect(c.decision).toBe('more_info');
    expect(c.comment).toBeNull();
  });
});

describe('signatures and the command part', () => {
  it.each<[string, Decision]>([
    ['Одобрено 1 500 000\n--\nИван Петров, ипотечный отдел\nотказ от звонков после 20:00', 'approved'],
    ['Отказ\n\nС уважением,\nМария\nОдобрено к печати', 'declined'],
    ['Approved 1,500,000\n\nBest regards,\nJohn\nDeclined calls go to voicemail', 'approved'],
    ['Approved\n\nRegards, Anna', 'approved'],
    ['одобрено 2 млн\n\nОтправлено с iPhone', 'approved'],
    ['Declined\n\nSent from my Galaxy', 'declined'],
    ['Отказано\n\nПолучено с помощью Outlook для Android', 'declined'],
    ['approved 900k\n\nGet Outlook for iOS', 'approved'],
    ['Одобрено\n________________________________\nFrom: Bank <credit@bank.ru>\nSent: Monday\nОтказ', 'approved'],
    ['Одобрено\nСпасибо!\nИван\nP.S. прошлый раз был отказ', 'approved'],
  ])('%j', (text, decision) => {
    expect(command(text).decision).toBe(decision);
  });

  it('reads Статус/Сумма lines wherever they are in the own text', () => {
    const c = command('Коллеги, см. ниже\n\nС уважением,\nИван\n\nСтатус: одобрено\nСумма: 2 000 000 руб.');
    expect(c).toMatchObject({ decision: 'approved', amount: '2000000.00', comment: 'см. ниже' });
  });

  it('keeps the signature out of the comment', () => {
    const c = command('Отказано, причина — просрочки\n\n-- \nИван Петров\nтел. +7 916 123-45-67');
    expect(c.comment).toBe('просрочки');
  });

  it('ignores quoted lines', () => {
    expect(command('Одобрено 1 500 000\n> Отказ по заявке').decision).toBe('approved');
  });

  it('stops at the forwarded message header', () => {
    expect(command('Одобрено\n-------- Пересылаемое сообщение --------\nОтказ').decision).toBe('approved');
  });
});

describe('ambiguous commands', () => {
  it.each<[string, RegExp]>([
    ['одобрено и отказ', /conflicting decisions/],
    ['Одобрено, но потом отказали', /conflicting decisions/],
    ['approved / declined', /conflicting decisions/],
    ['Одобрено, но нужна справка 2-НДФЛ', /conflicting decisions/],
    ['Одобрено 1 500 000, просили 2 000 000', /two different amounts: 1500000.00 and 2000000.00/],
    ['Одобрено на 1,5 млн\nСумма: 2 000 000', /two different amounts/],
    ['approved 1,500,000 and 1,200,000', /two different amounts/],
    ['одобрено?', /question/],
    ['Одобрили или нет?', /question/],
    ['Не отказали', /negates a refusal/],
    ['одобрения нет', /negation/],
    ['Не одобрено — нужна справка', /conflicting decisions/],
  ])('%j', (text, reason) => {
    expect(ambiguous(text)).toMatch(reason);
  });
});

describe('notes without a decision', () => {
  it.each([
    '',
    '   \n\n  ',
    'Клиент перезвонит завтра в 15:00',
    'Коллеги, посмотрите, пожалуйста, письмо банка ниже',
    'Пока не одобрили, ждём',
    'Not yet approved',
    'Pending approval from the bank',
    'Ждём одобрения до пятницы',
    'Отправили на согласование',
    'Небольшое уточнение: клиент сменил телефон',
    'Отказ от страховки, клиент передумал',
    'Documents accepted for review',
    'Заявка на рассмотрении, сумма 1 500 000',
    'FYI',
    'Нужно подписать договор в пятницу',
    'Одобрено\n\n\n\n\n\n\n\n\n'.replace('Одобрено', 'Позвоните мне'),
  ])('%j', (text) => {
    expect(parseStatusReply(text)).toEqual({ kind: 'none' });
  });

  it('does not count decision words below the first lines of a long note', () => {
    const note = ['Коллеги,', 'пишу по клиенту Иванову.', 'Он просил перезвонить.', 'Телефон прежний.', 'Встреча в офисе.', 'Паспорт у нас.', 'Анкету заполнил.', 'Ждём банк.', 'Был отказ в другом банке.'];
    expect(parseStatusReply(note.join('\n'))).toEqual({ kind: 'none' });
  });

  it('survives invisible characters and very long text', () => {
    expect(command('одоб\u200Bрено 1 500 000').amount).toBe('1500000.00');
    expect(parseStatusReply('текст '.repeat(10_000))).toEqual({ kind: 'none' });
  });
});

describe('other sums and wordings around an approval', () => {
  it('does not take a down payment, a monthly payment or a fee for a second amount', () => {
    const c = command('Одобрено 1 500 000 руб., первоначальный взнос 300 000, ежемесячный платёж 38 500 руб.');
    expect(c.amount).toBe('1500000.00');
    expect(c.comment).toBe('первоначальный взнос 300 000, ежемесячный платёж 38 500 руб');
    expect(command('Approved 2,000,000, fee 15,000').amount).toBe('2000000.00');
  });

  it('reads words around the figures', () => {
    expect(command('Approved for 1.5 million rubles')).toMatchObject({ amount: '1500000.00', comment: null });
    expect(command('одобрено на 1 500 000 рублей сроком на 7 лет')).toMatchObject({ amount: '1500000.00', termMonths: 84, comment: null });
    expect(command('We got approval for 2,000,000!')).toMatchObject({ amount: '2000000.00', comment: null });
    expect(command('Одобрена рассрочка 120 000 под 0%')).toMatchObject({ amount: '120000.00', rate: '0' });
    expect(command('Одобрено полтора миллиона')).toMatchObject({ amount: null, comment: 'полтора миллиона' });
  });

  // No wall-clock bound (the suite runs on busy machines): catastrophic backtracking would not
  // finish at all, and the test's timeout catches that; bench measures speed.
  it('finishes on pasted junk', () => {
    for (const junk of ['одобрено ' + '1 '.repeat(5000), 'не '.repeat(5000) + 'одобрено', 'нужна ' + 'а '.repeat(5000) + 'справка']) expect(parseStatusReply(junk)).toBeTruthy();
  }, 30_000);
});

describe('a clear decision with a doubtful other one', () => {
  it('is ambiguous, not an approval', () => {
    const r = parseStatusReply('одобрено ... или всё-таки отказ? Перечитала письмо, не пойму.');
    expect(r.kind).toBe('ambiguous');
  });
});
