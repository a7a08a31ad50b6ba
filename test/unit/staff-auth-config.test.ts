import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { checkStaffAuth } from '../../src/ops/doctor.js';
import { tempDir } from '../helpers/cli.js';

// intake.staffAuth as shipped, as older files wrote it, and what doctor says of each (issue 13:
// the shipped configuration trusted the placeholder mx.dossier.example).

const load = async (yaml: string | null, env: NodeJS.ProcessEnv = {}) => {
  const cwd = await tempDir();
  if (yaml !== null) await writeFile(path.join(cwd, 'dossier.config.yaml'), yaml);
  return loadConfig({ env, cwd }).config;
};

describe('intake.staffAuth', () => {
  it('ships mode dkim, trusting no header, and doctor is content with it', async () => {
    const c = await load(null);
    expect(c.intake.staffAuth).toEqual({ mode: 'dkim', trustedAuthServId: null, mtaHostname: null });
    expect(checkStaffAuth(c)).toMatchObject({ status: 'OK', message: expect.stringMatching(/^dkim: /) });
  });

  it('reads the older string forms: mailauth is dkim; authentication-results is mta, which trusts nothing until both names are set', async () => {
    expect((await load('intake:\n  staffAuth: mailauth\n')).intake.staffAuth.mode).toBe('dkim');
    const old = await load('intake:\n  staffAuth: authentication-results\n');
    expect(old.intake.staffAuth).toEqual({ mode: 'mta', trustedAuthServId: null, mtaHostname: null });
    expect(checkStaffAuth(old)).toMatchObject({ status: 'FAIL', message: expect.stringContaining('trusts nothing real') });
  });

  it('refuses the removed mode "none", naming the choices', async () => {
    expect(() => loadConfig({ env: { DOSSIER_INTAKE__STAFF_AUTH: 'none' }, cwd: process.cwd() })).toThrow(/intake\.staffAuth\.mode[\s\S]*dkim[\s\S]*mta/);
  });

  it('doctor fails an mta setting that names a placeholder, and accepts real names', async () => {
    const fake = await load(null, { DOSSIER_INTAKE__STAFF_AUTH__MODE: 'mta', DOSSIER_INTAKE__STAFF_AUTH__TRUSTED_AUTH_SERV_ID: 'mx.dossier.example', DOSSIER_INTAKE__STAFF_AUTH__MTA_HOSTNAME: 'mx1.corp.ru' });
    expect(checkStaffAuth(fake)).toMatchObject({ status: 'FAIL', message: expect.stringContaining('mx.dossier.example, a placeholder') });
    const test = await load(null, { DOSSIER_INTAKE__STAFF_AUTH__MODE: 'mta', DOSSIER_INTAKE__STAFF_AUTH__TRUSTED_AUTH_SERV_ID: 'mx1.corp.ru', DOSSIER_INTAKE__STAFF_AUTH__MTA_HOSTNAME: 'relay.test' });
    expect(checkStaffAuth(test).status).toBe('FAIL');
    const real = await load(null, { DOSSIER_INTAKE__STAFF_AUTH__MODE: 'mta', DOSSIER_INTAKE__STAFF_AUTH__TRUSTED_AUTH_SERV_ID: 'mx1.corp.ru', DOSSIER_INTAKE__STAFF_AUTH__MTA_HOSTNAME: 'mx1.corp.ru' });
    expect(checkStaffAuth(real)).toMatchObject({ status: 'OK' });
    const noStaff = await load(null, { DOSSIER_MAIL__STAFF: '[]' });
    expect(checkStaffAuth(noStaff).status).toBe('WARN');
  });
});
