/**
 * Host names the way network tools read them. An address the tools could read in two ways (curl's
 * RFC 3986 split and the WHATWG URL parser disagree on backslashes, several `@`, percent-encoded host
 * names) is refused rather than guessed: the caller turns an error into a denial.
 *
 * Normalization uses Node's WHATWG URL parser: IDN → punycode (UTS #46), IPv4 in decimal, hex, octal
 * or shortened forms → dotted quad, IPv6 → canonical brackets, lower case.
 */
import { domainToASCII } from 'node:url';

/** Marks a computed part (a shell expansion) inside a word's text. */
export const COMPUTED = '\u0000';

export type HostResult = { readonly host: string } | { readonly error: string };

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * The host an address connects to: `scheme://[user[:pass]@]host[:port][/path]`, or without a scheme
 * when `schemeless` is set (curl and wget accept `host/path`). `file:` addresses have no host.
 */
export function addressHost(address: string, options: { schemeless?: boolean } = {}): HostResult | undefined {
  const scheme = SCHEME.exec(address);
  if (!scheme && !options.schemeless) return { error: `"${shorten(address)}" is not an address` };
  if (scheme && scheme[1].toLowerCase() === 'file') return undefined;
  const rest = scheme ? address.slice(scheme[0].length) : address;
  const end = rest.search(/[/?#]/);
  return authorityHost(end === -1 ? rest : rest.slice(0, end), address);
}

/** `[user@]host[:port]` (also ssh's and scp's destination form). */
export function authorityHost(authority: string, whole = authority): HostResult {
  const where = `"${shorten(whole)}"`;
  if (authority.includes(COMPUTED)) return { error: `the host in ${where} is computed when the command runs` };
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
  if (/[\\\s\x00-\x1f\x7f]/.test(authority))
    return { error: `${where} has a backslash or a control character in its host part` };
  const at = authority.split('@');
  if (at.length > 2) return { error: `${where} has more than one @ before its host` };
  const hostPort = at[at.length - 1];
  let host: string;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1 || !/^(:\d*)?$/.test(hostPort.slice(close + 1)))
      return { error: `${where} has a malformed IPv6 address` };
    host = hostPort.slice(0, close + 1);
  } else {
    const colon = hostPort.split(':');
    if (colon.length > 2 || (colon.length === 2 && !/^\d*$/.test(colon[1])))
      return { error: `${where} has a malformed port` };
    host = colon[0];
  }
  return normalizeHost(host, where);
}

/** Canonical form of a host name or IP literal; an error when no tool would read it one way. */
export function normalizeHost(host: string, where = `"${shorten(host)}"`): HostResult {
  if (host.length === 0) return { error: `${where} names no host` };
  if (/[%{}[\]*?]/.test(host.replace(/^\[[0-9a-f:.]+\]$/i, ''))) {
    return { error: `${where} has percent-encoding or glob characters in its host` };
  }
  let parsed: string;
  try {
    parsed = new URL(`http://${host}/`).hostname;
  } catch {
    return { error: `${where} is not a valid host name` };
  }
  const ascii = parsed.startsWith('[') ? parsed : domainToASCII(parsed);
  if (!ascii) return { error: `${where} is not a valid host name` };
  return { host: ascii.replace(/\.$/, '') };
}

export function isIpLiteral(host: string): boolean {
  return host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * `api.example.com` matches itself; `*.example.com` matches any subdomain (not the apex). Entries are
 * normalized like hosts (an IDN entry matches its punycode); an IP literal matches only itself.
 */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((entry) => {
    const wildcard = entry.startsWith('*.');
    const normal = normalizeHost(wildcard ? entry.slice(2) : entry);
    if (!('host' in normal)) return false;
    if (!wildcard) return host === normal.host;
    return !isIpLiteral(host) && host.endsWith(`.${normal.host}`);
  });
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`<>()]+/gi;
const SCP_IN_TEXT = /(?:^|[\s'"=])[a-z0-9._-]+@([a-z0-9.-]+\.[a-z]{2,}):/gi;

/**
 * Hosts named anywhere in free text (a prompt, an MCP tool's input, an interpreter's script): a best
 * effort for calls whose destination the guard cannot read exactly; addresses that do not parse are
 * skipped here, because such a call is judged outbound anyway.
 */
export function hostsInText(text: string): string[] {
  const hosts = new Set<string>();
  for (const m of text.matchAll(URL_IN_TEXT)) {
    const result = addressHost(m[0]);
    if (result && 'host' in result) hosts.add(result.host);
  }
  for (const m of text.matchAll(SCP_IN_TEXT)) {
    const result = normalizeHost(m[1]);
    if ('host' in result) hosts.add(result.host);
  }
  return [...hosts];
}

function shorten(text: string): string {
  const shown = text.replaceAll(COMPUTED, '$…');
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
}
