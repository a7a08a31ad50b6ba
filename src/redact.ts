// Secrets out of URLs and connection strings before they are printed (errors, doctor, logs).
// "In every form" (issue 13): the password of user:password@host even when it contains "@" (or
// "/", "?", "#", which people also paste unencoded), secrets in the query (?password=…,
// &sslpassword=…, ?token=…, ?api_key=…), and libpq's keyword=value strings (password=… or
// password='…'). When a form is ambiguous, more is hidden, never less.

const SECRET_KEYS = 'password|passwd|pass|pwd|sslpassword|secret|client_secret|token|access_token|refresh_token|api[_-]?key|apikey|auth|authorization|key|signature|sig';
const QUERY_SECRET = new RegExp(`([?&;]|^|\\s)((?:${SECRET_KEYS}))=("[^"]*"|'(?:[^'\\\\]|\\\\.)*'|[^&#\\s]*)`, 'gi');

const HOSTISH = /^(?:[A-Za-z0-9._~%-]+|\[[0-9A-Fa-f:.]+\])?(?::\d*)?$/;

function redactUserinfo(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)/.exec(url);
  if (!m) return url;
  const scheme = m[1]!;
  const rest = url.slice(scheme.length);
  const cut = rest.search(/[/?#]/);
  const authority = cut < 0 ? rest : rest.slice(0, cut);
  let end = authority.lastIndexOf('@'); // the WHATWG rule: the last "@" of the authority ends the userinfo
  const colon = rest.indexOf(':');
  if (colon >= 0 && (end < 0 || colon < end)) {
    // A password with "/", "?" or "#" in it ends the authority too early: if what follows the ":" is
    // not a port, the userinfo runs to the last "@" that is followed by a host.
    const afterColon = rest.slice(colon + 1);
    if (end < 0 && !/^\d*(?:[/?#]|$)/.test(afterColon)) {
      for (let at = rest.lastIndexOf('@'); at > colon; at = rest.lastIndexOf('@', at - 1)) {
        const host = rest.slice(at + 1).split(/[/?#]/, 1)[0]!;
        if (HOSTISH.test(host)) {
          end = at;
          break;
        }
      }
    }
  }
  if (end < 0) return url;
  const userinfo = rest.slice(0, end);
  const c = userinfo.indexOf(':');
  if (c < 0) return url; // a user name alone is no secret
  return `${scheme}${userinfo.slice(0, c)}:***@${rest.slice(end + 1)}`;
}

/** The URL or connection string with every password and query secret replaced by ***. */
export function redactUrl(url: string): string {
  return redactUserinfo(url).replace(QUERY_SECRET, (_m, lead: string, key: string) => `${lead}${key}=***`);
}
