// A real Dovecot IMAP server for tests and benchmarks (not part of Dossier: plain JavaScript so that
// the benchmarks, which run over dist/ without a TypeScript loader, share it with the tests; its
// types are in dovecot-server.d.mts). Started from Debian's dovecot-imapd (which .ci/run installs)
// in a temporary directory, on a free loopback port, any user with the password "secret".
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';
/** A loopback port nothing listens on (at the moment of asking). */
export async function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.listen(0, '127.0.0.1', () => {
            const port = s.address().port;
            s.close(() => resolve(port));
        });
        s.on('error', reject);
    });
}
export async function startDovecot() {
    const root = process.getuid?.() === 0;
    const user = root ? 'nobody' : os.userInfo().username;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dossier-dovecot-'));
    for (const d of ['run', 'state', 'mail'])
        mkdirSync(path.join(dir, d), { recursive: true });
    chmodSync(dir, 0o755);
    const port = await freePort();
    const conf = path.join(dir, 'dovecot.conf');
    writeFileSync(conf, `protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
info_log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = ${user}
default_internal_group = ${root ? 'nogroup' : user}
default_login_user = ${user}
mail_location = maildir:${dir}/mail/%n/Maildir
mail_uid = ${user}
mail_gid = ${root ? 'nogroup' : user}
first_valid_uid = 0
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = home=${dir}/mail/%n
}
`);
    if (root)
        execFileSync('chown', ['-R', `${user}:nogroup`, dir]);
    const cmd = root ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', 'dovecot', '-F', '-c', conf] : ['dovecot', '-F', '-c', conf];
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let errors = '';
    child.stderr.on('data', (d) => (errors += d));
    for (let i = 0; i < 100; i++) {
        const open = await new Promise((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => (s.end(), resolve(true)));
            s.on('error', () => resolve(false));
        });
        if (open)
            break;
        if (child.exitCode !== null)
            throw new Error(`dovecot exited: ${errors}`);
        await sleep(50);
    }
    const client = (u) => new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: u, pass: 'secret' }, logger: false });
    return {
        port,
        dir,
        client,
        async append(u, raw, folder = 'INBOX') {
            const c = client(u);
            await c.connect();
            try {
                await c.append(folder, raw);
            }
            finally {
                await c.logout();
            }
        },
        async stop() {
            child.kill('SIGTERM');
            await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
        },
    };
}
