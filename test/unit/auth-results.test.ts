import { describe, expect, it } from 'vitest';
import { AuthResultsSyntaxError, authServIdOf, parseAuthResults, prop } from '../../src/inbound/auth-results.js';

// RFC 8601 Authentication-Results, including the examples of its Appendix B, and the hostile forms
// found against the old split-on-";" reading (issue 13).

describe('parseAuthResults', () => {
  it('reads the RFC 8601 Appendix B examples', () => {
    expect(parseAuthResults('example.org 1; none')).toEqual({ authServId: 'example.org', version: '1', results: [] });
    const b4 = parseAuthResults(`example.com;
                  spf=pass smtp.mailfrom=example.net`);
    expect(b4.results).toEqual([{ method: 'spf', result: 'pass', props: [{ ptype: 'smtp', property: 'mailfrom', value: 'example.net' }] }]);
    const b5 = parseAuthResults(`example.com;
                  auth=pass (cram-md5) smtp.auth=sender@example.net;
                  spf=pass smtp.mailfrom=example.net`);
    expect(b5.results.map((r) => [r.method, r.result])).toEqual([['auth', 'pass'], ['spf', 'pass']]);
    expect(prop(b5.results[0]!, 'smtp.auth')).toBe('sender@example.net');
    const b6 = parseAuthResults(`example.com;
              dkim=pass (good signature) header.d=mail-router.example.net;
              dkim=fail (bad signature) header.d=newyork.example.com`);
    expect(b6.results.map((r) => [r.method, r.result, prop(r, 'header.d')])).toEqual([
      ['dkim', 'pass', 'mail-router.example.net'],
      ['dkim', 'fail', 'newyork.example.com'],
    ]);
    const b7 = parseAuthResults('example.com; sender-id=fail header.from=example.com; dkim=pass (good signature) header.d=example.com');
    expect(b7.results.map((r) => r.method)).toEqual(['sender-id', 'dkim']);
  });

  it('reads what real MTAs write: comments, versions, reason, header.b with / + =, a trailing ;', () => {
    const h = parseAuthResults(
      'mx.google.com;\r\n       dkim=pass header.i=@dossier.example header.s=mail header.b=Ab+/c9==;\r\n       spf=pass (google.com: domain of a@b.example designates 1.2.3.4 as permitted sender) smtp.mailfrom=a@b.example;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=dossier.example;',
    );
    expect(h.results.map((r) => r.method)).toEqual(['dkim', 'spf', 'dmarc']);
    expect(prop(h.results[0]!, 'header.b')).toBe('Ab+/c9==');
    expect(prop(h.results[2]!, 'header.from')).toBe('dossier.example');
    const v = parseAuthResults('mx.example (nested (comment) here) 1; dkim/1 = pass reason="all good; really" header . d = example.com');
    expect(v.version).toBe('1');
    expect(v.results[0]).toMatchObject({ method: 'dkim', version: '1', result: 'pass', reason: 'all good; really' });
    expect(prop(v.results[0]!, 'header.d')).toBe('example.com');
  });

  it('keeps a ";dmarc=pass" inside a quoted value or a comment as text', () => {
    const q = parseAuthResults('mx.dossier.example; dmarc=fail reason="x;dmarc=pass header.from=dossier.example" header.from=dossier.example');
    expect(q.results).toHaveLength(1);
    expect(q.results[0]).toMatchObject({ method: 'dmarc', result: 'fail', reason: 'x;dmarc=pass header.from=dossier.example' });
    const p = parseAuthResults('mx.dossier.example; spf=pass smtp.mailfrom="evil;dmarc=pass"@evil.example; dmarc=fail header.from=dossier.example');
    expect(p.results.map((r) => `${r.method}=${r.result}`)).toEqual(['spf=pass', 'dmarc=fail']);
    expect(prop(p.results[0]!, 'smtp.mailfrom')).toBe('evil;dmarc=pass@evil.example');
    const c = parseAuthResults('mx.dossier.example; dmarc=fail (;dmarc=pass header.from=dossier.example) header.from=dossier.example');
    expect(c.results.map((r) => `${r.method}=${r.result}`)).toEqual(['dmarc=fail']);
    const escaped = parseAuthResults('mx.dossier.example; dmarc=fail reason="a \\" ; dmarc=pass"');
    expect(escaped.results).toHaveLength(1);
  });

  it('refuses what it cannot read, rather than guess', () => {
    for (const bad of [
      '',
      'mx.dossier.example',
      'mx.dossier.example; dmarc=pass reason="unclosed',
      'mx.dossier.example; dmarc=pass (unclosed comment',
      'mx.dossier.example; dmarc pass',
      'mx.dossier.example; dmarc=pass header.from',
      'mx.dossier.example; dmarc=pass action=none',
      'mx.dossier.example; =pass',
    ]) {
      expect(() => parseAuthResults(bad), bad).toThrow(AuthResultsSyntaxError);
    }
  });

  it('reads the authserv-id alone, quoted or after a comment', () => {
    expect(authServIdOf('mx.dossier.example; dkim=pass')).toBe('mx.dossier.example');
    expect(authServIdOf('(ours) "mx.dossier.example"; dkim=pass')).toBe('mx.dossier.example');
    expect(authServIdOf('mx.evil.example (mx.dossier.example); dkim=pass')).toBe('mx.evil.example');
    expect(authServIdOf('(unclosed mx.dossier.example; dkim=pass')).toBeNull();
  });
});
