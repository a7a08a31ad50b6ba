import { ImapFlow } from 'imapflow';
export interface TestDovecot {
    port: number;
    dir: string;
    stop(): Promise<void>;
    client(user: string): ImapFlow;
    append(user: string, raw: Buffer | string, folder?: string): Promise<void>;
}
/** A loopback port nothing listens on (at the moment of asking). */
export declare function freePort(): Promise<number>;
export declare function startDovecot(): Promise<TestDovecot>;
