import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { isDossierError, type DossierError } from '../../src/errors.js';
import { tempDir } from '../helpers/cli.js';

function failure(fn: () => unknown): DossierError {
  try {
    fn();
  } catch (err) {
    if (isDossierError(err)) return err;
    throw err;
  }
  throw new Error('expected a DossierError');
}

describe('configuration', () => {
  it('loads the shipped defaults with nothing configured', async () => {
    const cwd = await tempDir();
    const { config, home, files } = loadConfig({ env: { HOME: '/home/anna' }, cwd });
    expect(files).toHaveLength(1);
    expect(home).toBe('/home/anna/.local/share/dossier'); // no configuration file anywhere above: the XDG data folder
    expect(config.database.url).toBeNull();
    expect(config.recordTypes.deal!.prefix).toBe('DL');
    expect(config.recordTypes.claim!.prefix).toBe('CL');
    expect(config.recordTypes.deal!.transitions.new).toContain('collecting');
  });

  it('lays a file and DOSSIER_* variables over the defaults', async () => {
    const cwd = await tempDir();
    const file = path.join(cwd, 'my.yaml');
    await writeFile(file, 'attachments:\n  maxBytes: 1000\n');
    const { config, home } = loadConfig({ configPath: file, env: { DOSSIER_HOME: '/srv/dossier', DOSSIER_DATABASE__POOL_SIZE: '3', DATABASE_URL: 'postgres://u@h/db' }, cwd });
    expect(config.attachments.maxBytes).toBe(1000);
    expect(Object.keys(config.attachments.categories)).toContain('police_report'); // merged, not replaced
    expect(config.database.poolSize).toBe(3);
    expect(config.database.url).toBe('postgres://u@h/db');
    expect(home).toBe('/srv/dossier');
  });

  it('lists every problem with its path, naming the variable it came from', async () => {
    const cwd = await tempDir();
    const file = path.join(cwd, 'bad.yaml');
    await writeFile(
      file,
      [
        'attachments:',
        '  maxBytes: -5',
        'recordTypes:',
        '  deal:',
        '    prefix: dl',
        '    initialStatus: fresh',
        '  claim:',
        '    transitions:',
        '      reported: [nowhere]',
        'colour: blue',
      ].join('\n'),
    );
    const err = failure(() => loadConfig({ configPath: file, env: { DOSSIER_DATABASE__POOL_SIZE: 'many' }, cwd }));
    expect(err.code).toBe('CONFIG_INVALID');
    const problems = (err.details as { problems: string[] }).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^attachments\.maxBytes: /),
        expect.stringMatching(/^recordTypes\.deal\.prefix: must be 1–4 capital Latin letters/),
        expect.stringMatching(/^recordTypes\.deal\.initialStatus: "fresh" is not one of the statuses/),
        expect.stringMatching(/^recordTypes\.claim\.transitions\.reported\.0: "nowhere" is not one of the statuses/),
        expect.stringMatching(/colour/),
        expect.stringMatching(/^database\.poolSize: .*\(from DOSSIER_DATABASE__POOL_SIZE\)$/),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(6);
    expect(err.message).toContain(`${problems.length} problem(s)`);
  });

  it('reports a YAML syntax error with the file and line', async () => {
    const cwd = await tempDir();
    const file = path.join(cwd, 'broken.yaml');
    await writeFile(file, 'home: ./x\nattachments:\n  maxBytes: [1, 2\n');
    const err = failure(() => loadConfig({ configPath: file, env: {}, cwd }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:`));
  });

  it('refuses a missing configuration file', async () => {
    const cwd = await tempDir();
    const err = failure(() => loadConfig({ env: { DOSSIER_CONFIG: 'nope.yaml' }, cwd }));
    expect(err.code).toBe('CONFIG_NOT_FOUND');
    expect(err.hint).toContain('DOSSIER_CONFIG');
  });

  it('refuses two record types with the same prefix', async () => {
    const cwd = await tempDir();
    const file = path.join(cwd, 'dup.yaml');
    await writeFile(file, 'recordTypes:\n  claim:\n    prefix: DL\n');
    const err = failure(() => loadConfig({ configPath: file, env: {}, cwd }));
    expect((err.details as { problems: string[] }).problems).toEqual([expect.stringContaining('prefix DL is already used by "deal"')]);
  });

  it('refuses an approval chain whose category does not exist (issue 17)', async () => {
    const cwd = await tempDir();
    const file = path.join(cwd, 'chain.yaml');
    await writeFile(file, 'approvals:\n  chains:\n    contract:\n      category: kontrakty\n      approvers: [{ email: a@b.example }]\n');
    const err = failure(() => loadConfig({ configPath: file, env: {}, cwd }));
    expect((err.details as { problems: string[] }).problems).toEqual([expect.stringMatching(/approvals\.chains\.contract\.category.*"kontrakty" is not an attachment category/)]);
  });

  it('takes a mailbox password from the environment, by index or by the mailbox name, as text', async () => {
    const cwd = await tempDir();
    const file = path.join(cwd, 'boxes.yaml');
    await writeFile(
      file,
      'intake:\n  mailboxes:\n' +
        '    - { name: claims, host: imap.example, port: 993, security: tls, user: claims@example, password: from-file }\n' +
        '    - { name: deals-in, host: imap.example, port: 993, security: tls, user: deals@example, password: from-file }\n',
    );
    const { config } = loadConfig({ configPath: file, env: { DOSSIER_INTAKE__MAILBOXES__0__PASSWORD: '12345', DOSSIER_INTAKE__MAILBOXES__DEALS_IN__PASSWORD: 'yes' }, cwd });
    expect(config.intake.mailboxes.map((m) => [m.name, m.password])).toEqual([['claims', '12345'], ['deals-in', 'yes']]);
    expect(config.intake.mailboxes[0]!.host).toBe('imap.example'); // the rest of the item is kept
  });

  it('reads secrets from files: DOSSIER_…_FILE, DATABASE_URL_FILE and passwordFile keys', async () => {
    const cwd = await tempDir();
    await writeFile(path.join(cwd, 'smtp.secret'), 's3cr3t\n');
    await writeFile(path.join(cwd, 'imap.secret'), '007\n');
    await writeFile(path.join(cwd, 'db.url'), 'postgres://dossier:pw@db.internal/dossier\n');
    const file = path.join(cwd, 'c.yaml');
    await writeFile(file, `intake:\n  mailboxes:\n    - { name: claims, host: imap.example, port: 993, security: tls, user: claims@example, passwordFile: ${path.join(cwd, 'imap.secret')} }\n`);
    const { config } = loadConfig({ configPath: file, env: { DOSSIER_MAIL__SMTP__PASSWORD_FILE: path.join(cwd, 'smtp.secret'), DATABASE_URL_FILE: 'db.url' }, cwd });
    expect(config.mail.smtp.password).toBe('s3cr3t');
    expect(config.intake.mailboxes[0]!.password).toBe('007');
    expect(config.database.url).toBe('postgres://dossier:pw@db.internal/dossier');

    const missing = failure(() => loadConfig({ env: { DOSSIER_MAIL__SMTP__PASSWORD_FILE: '/run/secrets/nope' }, cwd }));
    expect(missing.code).toBe('CONFIG_INVALID');
    expect(missing.message).toContain('DOSSIER_MAIL__SMTP__PASSWORD_FILE: cannot read the secret file /run/secrets/nope: ENOENT');
  });

  it('has a language (Russian by default) and an idle time for the embedded server', async () => {
    const cwd = await tempDir();
    expect(loadConfig({ env: {}, cwd }).config.language).toBe('ru');
    expect(loadConfig({ env: {}, cwd }).config.database.embeddedIdleSeconds).toBe(300);
    expect(loadConfig({ env: { DOSSIER_LANGUAGE: 'en', DOSSIER_DATABASE__EMBEDDED_IDLE_SECONDS: '0' }, cwd }).config).toMatchObject({ language: 'en', database: { embeddedIdleSeconds: 0 } });
    expect(failure(() => loadConfig({ env: { DOSSIER_LANGUAGE: 'de' }, cwd })).message).toContain('language');
  });
});
