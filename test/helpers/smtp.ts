import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

// A real SMTP server in the test process (the smtp-server package), recording what it receives.

export interface Received { raw: Buffer; mail: ParsedMail; envelopeTo: string[] }

export interface TestSmtp {
  port: number;
  received: Received[];
  /** Decide per recipient: return an SMTP reply ({ code, message }) to refuse it, or nothing to accept. */
  rcptRule: ((to: string) => { code: number; message: string } | void) | null;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startSmtp(port = 0): Promise<TestSmtp> {
  let server: SMTPServer | null = null;
  const t: TestSmtp = {
    port,
    received: [],
    rcptRule: null,
    async start() {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        size: 50 * 1024 * 1024,
        onRcptTo(address: SMTPServerAddress, _session, cb) {
          const refusal = t.rcptRule?.(address.address);
          if (refusal) {
            const err = new Error(refusal.message) as Error & { responseCode: number };
            err.responseCode = refusal.code;
            return cb(err);
          }
          cb();
        },
        onData(stream, session, cb) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', async () => {
            const raw = Buffer.concat(chunks);
            t.received.push({ raw, mail: await simpleParser(raw), envelopeTo: session.envelope.rcptTo.map((r) => r.address) });
            cb();
          });
        },
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(t.port, '127.0.0.1', () => resolve());
      });
      t.port = (server!.server.address() as { port: number }).port;
    },
    async stop() {
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = null;
    },
  };
  await t.start();
  return t;
}

/** Settings that send Dossier's mail through an SMTP server on loopback (plain, no login). */
export function smtpEnv(port: number): NodeJS.ProcessEnv {
  return { DOSSIER_MAIL__TRANSPORT: 'smtp', DOSSIER_MAIL__SMTP__HOST: '127.0.0.1', DOSSIER_MAIL__SMTP__PORT: String(port), DOSSIER_MAIL__SMTP__SECURITY: 'none' };
}
