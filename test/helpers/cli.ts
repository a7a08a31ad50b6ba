import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli/program.js';

export interface CliResult { code: number; stdout: string; stderr: string; json<T = any>(): T }

/**
 * Runs the real CLI program in this process (the same code bin/dossier runs), with its own
 * environment, and captures what it prints.
 */
export async function dossier(args: string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    io: { out: (t) => void out.push(t), err: (t) => void err.push(t), isTty: false },
    env,
    cwd,
  });
  const stdout = out.join('\n');
  return { code, stdout, stderr: err.join('\n'), json: () => JSON.parse(stdout) };
}

export async function tempDir(prefix = 'dossier-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * The environment for one test file: its own database and home, a named user for the audit trail.
 * Staff mail is trusted on the word of the test world's MTA, mx.dossier.example, whose Received and
 * Authentication-Results the fixtures carry (staffAuth mode mta); a test of DKIM mode sets
 * DOSSIER_INTAKE__STAFF_AUTH__MODE: dkim.
 */
export const TEST_MTA = 'mx.dossier.example';
export function testEnv(url: string, home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: url,
    DOSSIER_HOME: home,
    DOSSIER_USER: 'tester',
    PATH: process.env.PATH,
    DOSSIER_INTAKE__STAFF_AUTH__MODE: 'mta',
    DOSSIER_INTAKE__STAFF_AUTH__TRUSTED_AUTH_SERV_ID: TEST_MTA,
    DOSSIER_INTAKE__STAFF_AUTH__MTA_HOSTNAME: TEST_MTA,
    ...extra,
  };
}
