import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/app.js';

// redactUrl printed passwords given as ?password= and passwords containing "@" (issue 13).

describe('redactUrl', () => {
  it('hides the password of user:password@host, whatever it contains', () => {
    expect(redactUrl('postgres://dossier:s3cret@db.example:5432/dossier')).toBe('postgres://dossier:***@db.example:5432/dossier');
    expect(redactUrl('postgres://dossier:p@ss@w0rd@db.example/dossier')).toBe('postgres://dossier:***@db.example/dossier');
    expect(redactUrl('postgresql://dossier:a/b?c#d@db.example:5432/dossier')).toBe('postgresql://dossier:***@db.example:5432/dossier');
    expect(redactUrl('postgres://dossier:@db.example/dossier')).toBe('postgres://dossier:***@db.example/dossier');
    expect(redactUrl('postgres://dossier:p%40ss@[::1]:5432/dossier')).toBe('postgres://dossier:***@[::1]:5432/dossier');
    expect(redactUrl('https://user:pa@ss@sms.example/send')).toBe('https://user:***@sms.example/send');
  });

  it('hides secrets in the query and in keyword=value strings', () => {
    expect(redactUrl('postgres://db.example/dossier?user=dossier&password=s3cret&sslmode=require')).toBe('postgres://db.example/dossier?user=dossier&password=***&sslmode=require');
    expect(redactUrl('postgres://db.example/dossier?password=p@ss@word')).toBe('postgres://db.example/dossier?password=***');
    expect(redactUrl('https://sms.example/send?api_key=abc123&to=1')).toBe('https://sms.example/send?api_key=***&to=1');
    expect(redactUrl('https://sms.example/send?Token=abc#frag')).toBe('https://sms.example/send?Token=***#frag');
    expect(redactUrl("host=db.example user=dossier password='a b@c' dbname=dossier")).toBe('host=db.example user=dossier password=*** dbname=dossier');
    expect(redactUrl('host=db.example password=s3cret')).toBe('host=db.example password=***');
  });

  it('leaves what is not a secret', () => {
    for (const u of ['postgres://db.example:5432/dossier', 'postgres://dossier@db.example/dossier', 'postgres://db.example:5432/dossier?application_name=x&email=a@b.example', 'https://sms.example/send']) {
      expect(redactUrl(u)).toBe(u);
    }
  });
});
