import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliActor } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { defaultConfigPath, packageRoot } from '../../src/paths.js';
import { tempDir } from '../helpers/cli.js';

// The data home is the same wherever a command is run from, and says why it is what it is.

describe('the data home', () => {
  it('is beside the configuration file found by walking up, from any folder below it', async () => {
    const top = await tempDir();
    await writeFile(path.join(top, 'dossier.config.yaml'), 'mail:\n  domain: firm.example\n');
    const deep = path.join(top, 'clients', '2026', 'smirnov');
    await mkdir(deep, { recursive: true });
    const a = loadConfig({ env: { HOME: '/home/anna' }, cwd: top });
    const b = loadConfig({ env: { HOME: '/home/anna' }, cwd: deep });
    expect(a.home).toBe(path.join(top, '.dossier'));
    expect(b.home).toBe(a.home);
    expect(b.configFile).toBe(path.join(top, 'dossier.config.yaml'));
    expect(b.config.mail.domain).toBe('firm.example');
    expect(b.homeReason).toContain(`beside the configuration file ${path.join(top, 'dossier.config.yaml')}`);
    expect(b.configReason).toBe(`found from ${deep} upwards`);
  });

  it('takes a relative home: from the file that sets it, not from the working folder', async () => {
    const top = await tempDir();
    const etc = path.join(top, 'etc');
    await mkdir(etc);
    await writeFile(path.join(etc, 'site.yaml'), 'home: ../data\n');
    const elsewhere = await tempDir();
    const r = loadConfig({ env: { DOSSIER_CONFIG: path.join(etc, 'site.yaml') }, cwd: elsewhere });
    expect(r.home).toBe(path.join(top, 'data'));
    expect(r.homeReason).toBe(`home: is set in ${path.join(etc, 'site.yaml')}`);
    expect(r.configReason).toBe('given with DOSSIER_CONFIG');
  });

  it('is DOSSIER_HOME when set, and the XDG data folder when there is no configuration file', async () => {
    const cwd = await tempDir();
    expect(loadConfig({ env: { DOSSIER_HOME: '/srv/dossier' }, cwd }).home).toBe('/srv/dossier');
    const xdg = loadConfig({ env: { XDG_DATA_HOME: '/var/xdg', HOME: '/home/anna' }, cwd });
    expect(xdg.home).toBe('/var/xdg/dossier');
    expect(xdg.configFile).toBeNull();
    expect(xdg.homeReason).toContain('XDG');
    expect(loadConfig({ env: { XDG_DATA_HOME: 'relative/not/allowed', HOME: '/home/anna' }, cwd }).home).toBe('/home/anna/.local/share/dossier');
  });

  it('in a clone of the repository is the .dossier folder beside the shipped configuration', () => {
    const r = loadConfig({ env: {}, cwd: path.join(packageRoot, 'src', 'cli') });
    expect(r.configFile).toBe(defaultConfigPath);
    expect(r.files).toEqual([defaultConfigPath]);
    expect(r.home).toBe(path.join(packageRoot, '.dossier'));
  });
});

describe('the audit actor', () => {
  const login = () => 'root';
  it('is DOSSIER_USER, else the person behind sudo, else the login name', () => {
    expect(cliActor({ DOSSIER_USER: 'anna', SUDO_USER: 'boris' }, login).id).toBe('cli:anna');
    expect(cliActor({ SUDO_USER: 'boris' }, login).id).toBe('cli:boris');
    expect(cliActor({ SUDO_USER: 'root' }, login).id).toBe('cli:root');
    expect(cliActor({}, () => 'vera').id).toBe('cli:vera');
  });
});

describe('statusOnSend', () => {
  it('must be one of the record type\'s statuses', async () => {
    const cwd = await tempDir();
    await writeFile(path.join(cwd, 'dossier.config.yaml'), 'recordTypes:\n  deal:\n    statusOnSend: shipped\n');
    expect(() => loadConfig({ env: {}, cwd })).toThrow(/recordTypes\.deal\.statusOnSend: "shipped" is not one of the statuses/);
    await writeFile(path.join(cwd, 'dossier.config.yaml'), 'recordTypes:\n  deal:\n    statusOnSend: collecting\n');
    expect(loadConfig({ env: {}, cwd }).config.recordTypes.deal!.statusOnSend).toBe('collecting');
  });
});
