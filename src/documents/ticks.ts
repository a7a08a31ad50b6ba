// "Is this box ticked?" — one answer for every kind of tick Dossier draws: the tick filter in DOCX
// text, Word checkbox content controls and legacy form fields, PDF checkboxes and overlay ticks.

/**
 * A yes/no field ticks its box when true. With an option (`is: osago`, `dossier:type=osago`,
 * `tick:osago`) the box is ticked when the field has that value; on a yes/no field the option
 * may be "true" or "false". No value ticks nothing.
 */
export function isTicked(value: unknown, option?: string): boolean {
  if (value === null || value === undefined) return false;
  if (option === undefined) return value === true;
  if (typeof value === 'boolean') return String(value) === option;
  return value === option;
}
