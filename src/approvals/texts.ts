// What approvers and staff read about an approval, in the language of the mail intake writes
// (notifications.language, else the top-level language).

export type Lang = 'ru' | 'en';

interface Step { name: string; approver: string }
const who = (s: Step) => `${s.name || s.approver} (${s.approver})`;

export const APPROVAL_TEXTS = {
  ru: {
    subject: (title: string, file: string, step: number, of: number) => `Согласование: ${title} — ${file} (шаг ${step} из ${of})`,
    request: (s: Step & { ref: string; file: string; title: string; before: string[] }) => [
      `Здравствуйте${s.name ? `, ${s.name}` : ''}!`,
      '',
      `Просим согласовать документ «${s.file}» (${s.title}) по заявке ${s.ref}: он во вложении.`,
      ...(s.before.length ? ['', 'Уже согласовали:', ...s.before.map((b) => `  ${b}`)] : []),
      '',
      'Ответьте на это письмо, не меняя тему:',
      '  «согласовано» — документ пойдёт дальше по цепочке согласования;',
      '  «отклонено: причина» — документ вернётся сотрудникам с вашей причиной.',
      '',
      '--',
      'Dossier',
    ],
    approvedBefore: (s: Step, at: string) => `согласовано: ${who(s)}, ${at}`,
    unclear: (file: string) => ['Здравствуйте!', '', `Не удалось понять ваш ответ по документу «${file}». Ответьте на письмо о согласовании одним словом в первой строке:`, '  «согласовано» — или — «отклонено: причина».', '', '--', 'Dossier'],
    noReason: '(без причины)',
    rejectedSubject: (title: string, file: string, id: number) => `Отклонено: ${title} — ${file} (согласование №${id})`,
    rejected: (s: Step, file: string, ref: string, at: string, reason: string) => [`${who(s)} отклонил(а) документ «${file}» по заявке ${ref} ${at}.`, '', `Причина: ${reason}`],
    approvedSubject: (title: string, file: string, id: number) => `Согласовано: ${title} — ${file} (согласование №${id})`,
    approved: (file: string, ref: string, steps: string[]) => [`Документ «${file}» по заявке ${ref} согласован всеми (${steps.length}):`, ...steps.map((s) => `  ${s}`)],
    more: (ref: string) => `Подробнее: dossier approval ${ref}`,
  },
  en: {
    subject: (title: string, file: string, step: number, of: number) => `Approval: ${title} — ${file} (step ${step} of ${of})`,
    request: (s: Step & { ref: string; file: string; title: string; before: string[] }) => [
      `Hello${s.name ? ` ${s.name}` : ''},`,
      '',
      `Please approve «${s.file}» (${s.title}) of ${s.ref}: it is attached.`,
      ...(s.before.length ? ['', 'Approved so far:', ...s.before.map((b) => `  ${b}`)] : []),
      '',
      'Reply to this email, keeping the subject:',
      '  "approved" — the document goes on along the chain;',
      '  "rejected: reason" — the document goes back to staff with your reason.',
      '',
      '--',
      'Dossier',
    ],
    approvedBefore: (s: Step, at: string) => `approved: ${who(s)}, ${at}`,
    unclear: (file: string) => ['Hello,', '', `Your answer about «${file}» could not be read. Reply to the approval email with one word on the first line:`, '  "approved" — or — "rejected: reason".', '', '--', 'Dossier'],
    noReason: '(no reason given)',
    rejectedSubject: (title: string, file: string, id: number) => `Rejected: ${title} — ${file} (approval #${id})`,
    rejected: (s: Step, file: string, ref: string, at: string, reason: string) => [`${who(s)} rejected «${file}» of ${ref} on ${at}.`, '', `Reason: ${reason}`],
    approvedSubject: (title: string, file: string, id: number) => `Approved: ${title} — ${file} (approval #${id})`,
    approved: (file: string, ref: string, steps: string[]) => [`«${file}» of ${ref} is approved by all (${steps.length}):`, ...steps.map((s) => `  ${s}`)],
    more: (ref: string) => `See: dossier approval ${ref}`,
  },
} as const;
