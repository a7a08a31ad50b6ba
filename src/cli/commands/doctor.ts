import type { OpenAppOptions } from '../../app.js';
import { DossierError } from '../../errors.js';
import { runDoctor, type CheckResult, type DoctorOptions, type DoctorReport } from '../../ops/doctor.js';
import { withApp } from '../session.js';

export async function doctor(options: OpenAppOptions & { timeout?: string | undefined }): Promise<DoctorReport> {
  const seconds = options.timeout === undefined ? 10 : Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new DossierError('USAGE', `--timeout must be a number of seconds, not "${options.timeout}".`, { hint: 'dossier doctor --timeout 20' });
  const { timeout: _flag, ...open } = options;
  // withApp from the session: a Ctrl-C during the checks still stops the embedded server.
  const o: DoctorOptions = { ...open, timeoutMs: seconds * 1000, withApp: (opts, fn) => withApp(opts, fn) };
  return runDoctor(o);
}

export function renderDoctor(r: DoctorReport): string {
  // Not formatTable: hints are long, and a rule as wide as the longest one would fill the screen.
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const indent = ' '.repeat(4 + 2 + width + 2);
  const lines = r.checks.flatMap((c: CheckResult) => [
    `${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.message}`,
    ...(c.details ?? []).map((d) => `${indent}- ${d}`),
    ...(c.hint && c.status !== 'OK' ? [`${indent}hint: ${c.hint}`] : []),
  ]);
  const n = r.counts;
  const summary = `${n.OK} OK, ${n.WARN} warning(s), ${n.FAIL} failed${n.SKIP ? `, ${n.SKIP} not checked` : ''}.`;
  return `${lines.join('\n')}\n\n${summary}`;
}

/** After the report is printed: any FAIL makes the command exit non-zero (2: the environment). */
export function failIfUnhealthy(r: DoctorReport): void {
  if (r.ok) return;
  const failed = r.checks.filter((c) => c.status === 'FAIL').map((c) => c.name);
  throw new DossierError('DOCTOR_FAILED', `${failed.length} check(s) failed: ${failed.join(', ')}.`, { hint: 'Each FAIL line above says what is wrong and what to change.', details: { failed } });
}
