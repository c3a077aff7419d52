/**
 * HTTP(S) proxies from the environment, decided the way Go's net/http does it (ProxyFromEnvironment, i.e.
 * golang.org/x/net/http/httpproxy), so that chartorigin goes through the same proxy as helm, Flux and
 * client-go given the same variables:
 *
 * - https URLs use HTTPS_PROXY, http URLs use HTTP_PROXY; each upper-case name is read before its
 *   lower-case twin, and an empty value counts as unset. There is no fallback from one scheme's variable
 *   to the other's.
 * - A value that does not parse as a URL with a scheme and a host is read again with "http://" in front
 *   ("proxy:3128", "10.0.0.1:3128", "user:pw@proxy:3128"); a value that parses neither way is ignored.
 * - With REQUEST_METHOD set (a CGI process) an http URL whose HTTP_PROXY is set fails rather than trusting a
 *   variable a client may have injected; https URLs are not affected.
 * - "localhost" and loopback IP literals (127.0.0.0/8, ::1, IPv4-mapped forms) never use a proxy.
 * - NO_PROXY (then no_proxy) is a comma-separated list, matched case-insensitively: `*` alone bypasses
 *   everything; an IP address or CIDR range matches IP-literal hosts only; a name matches that host and its
 *   subdomains, `.name` and `*.name` match subdomains only; an entry may carry a port (`host:8443`,
 *   `10.0.0.1:80`, `[::1]:443`) that must then equal the request's (default 80/443 filled in).
 *
 * Node 24's agents can tunnel through an http:// or https:// proxy (`proxyEnv`), but their bypass rules
 * differ from Go's and they do not spare loopback, so the decision is made here and Node is only handed
 * the proxy already chosen, with an empty bypass list. Node cannot speak SOCKS: a socks5/socks5h proxy that
 * would be used is an error naming its variable, never a silent direct connection.
 *
 * Hosts are taken from WHATWG URLs (what Node actually connects to): already lower-case, IDNA-encoded and
 * with canonical IP literals.
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { domainToASCII } from 'node:url';
import { http, https } from './node-http.ts';

export type ProxyVariable = 'HTTP_PROXY' | 'http_proxy' | 'HTTPS_PROXY' | 'https_proxy';
/** Where a proxy came from: an environment variable, or a kubeconfig cluster's `proxy-url`. */
export type ProxySource = ProxyVariable | 'proxy-url';

/** The proxy a request goes through and the variable it came from (for messages). */
export interface ProxyChoice {
  url: URL;
  variable: ProxySource;
}

/** A proxy setting that cannot be used for a request that needs it; the message never holds credentials. */
export class ProxyError extends Error {
  /** The environment variable at fault. */
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(message);
    this.name = 'ProxyError';
    this.variable = variable;
  }
}

/** A proxy URL fit for messages and logs: scheme, host and port only, never userinfo or path. */
export function describeProxy(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

// ---------------------------------------------------------------------------------------------------------
// IP literals, parsed as Go's netip.ParseAddr does (strict dotted decimal, no leading zeros; IPv6 with at
// most one "::" and an optional trailing dotted IPv4), always stored as 16 bytes (IPv4 as ::ffff:a.b.c.d).

const V4_IN_V6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

interface ParsedAddr {
  bytes: Uint8Array;
  /** Written as dotted IPv4 (netip's Is4), as opposed to IPv6 text, IPv4-mapped included. */
  is4: boolean;
  zone: string;
}

function parseV4Fields(s: string, out: Uint8Array, at: number): boolean {
  let val = 0;
  let digits = 0;
  let pos = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && val === 0) return false; // leading zero
      val = val * 10 + (c - 0x30);
      digits++;
      if (val > 255) return false;
    } else if (c === 0x2e) {
      if (i === 0 || i === s.length - 1 || s[i - 1] === '.') return false;
      if (pos === 3) return false;
      out[at + pos++] = val;
      val = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  if (pos < 3) return false;
  out[at + 3] = val;
  return true;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function parseV6(input: string): ParsedAddr | undefined {
  let s = input;
  let zone = '';
  const pct = s.indexOf('%');
  if (pct >= 0) {
    zone = s.slice(pct + 1);
    s = s.slice(0, pct);
    if (zone === '') return undefined;
  }
  const ip = new Uint8Array(16);
  let ellipsis = -1;
  if (s.startsWith('::')) {
    ellipsis = 0;
    s = s.slice(2);
    if (s === '') return { bytes: ip, is4: false, zone };
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const h = hexValue(s.charCodeAt(off));
      if (h < 0) break;
      acc = acc * 16 + h;
      if (off > 3 || acc > 0xffff) return undefined;
    }
    if (off === 0) return undefined;
    if (off < s.length && s[off] === '.') {
      if (ellipsis < 0 && i !== 12) return undefined;
      if (i + 4 > 16) return undefined;
      if (!parseV4Fields(s, ip, i)) return undefined;
      s = '';
      i += 4;
      break;
    }
    ip[i] = acc >> 8;
    ip[i + 1] = acc & 0xff;
    i += 2;
    s = s.slice(off);
    if (s === '') break;
    if (s[0] !== ':' || s.length === 1) return undefined;
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return undefined;
      ellipsis = i;
      s = s.slice(1);
      if (s === '') break;
    }
  }
  if (s !== '') return undefined;
  if (i < 16) {
    if (ellipsis < 0) return undefined;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j] ?? 0;
    ip.fill(0, ellipsis, ellipsis + n);
  } else if (ellipsis >= 0) {
    return undefined; // "::" must stand for at least one zero group
  }
  return { bytes: ip, is4: false, zone };
}

/** Go's netip.ParseAddr. */
function parseAddr(s: string): ParsedAddr | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '.') {
      const bytes = new Uint8Array(16);
      bytes.set(V4_IN_V6);
      return parseV4Fields(s, bytes, 12) ? { bytes, is4: true, zone: '' } : undefined;
    }
    if (c === ':') return parseV6(s);
    if (c === '%') return undefined;
  }
  return undefined;
}

/** Go's net.ParseIP: an address without a zone, as 16 bytes. */
function parseIP(s: string): Uint8Array | undefined {
  const a = parseAddr(s);
  return a && a.zone === '' ? a.bytes : undefined;
}

/** Go's IP.To4 on a 16-byte address: the IPv4 bytes of an IPv4-mapped address, else undefined. */
function to4(ip: Uint8Array): Uint8Array | undefined {
  for (let i = 0; i < 12; i++) if (ip[i] !== V4_IN_V6[i]) return undefined;
  return ip.subarray(12);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isLoopback(ip: Uint8Array): boolean {
  const v4 = to4(ip);
  if (v4) return v4[0] === 127;
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) return false;
  return ip[15] === 1;
}

// ---------------------------------------------------------------------------------------------------------
// NO_PROXY

interface Cidr {
  /** Network number: 4 bytes when it is an IPv4 (or IPv4-mapped) network, else 16. */
  net: Uint8Array;
  mask: Uint8Array;
}

/** Go's net.ParseCIDR followed by IPNet.Contains' normalisation, so `contains` below matches Go's. */
function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseAddr(s.slice(0, slash));
  if (!addr || addr.zone !== '') return undefined;
  const bitsText = s.slice(slash + 1);
  // Go's dtoi: decimal digits only (leading zeros allowed), giving up at 2^24 - 1.
  if (!/^[0-9]+$/.test(bitsText)) return undefined;
  let bits = 0;
  for (const d of bitsText) {
    bits = bits * 10 + Number(d);
    if (bits >= 0xffffff) return undefined;
  }
  const bitLen = addr.is4 ? 32 : 128;
  if (bits > bitLen) return undefined;
  const mask = new Uint8Array(bitLen / 8);
  for (let i = 0; i < mask.length; i++) mask[i] = bits >= (i + 1) * 8 ? 0xff : bits > i * 8 ? (0xff << (8 - (bits - i * 8))) & 0xff : 0;
  const ip = addr.is4 ? addr.bytes.subarray(12) : addr.bytes;
  const masked = ip.map((b, i) => b & (mask[i] ?? 0));
  const v4 = masked.length === 16 ? to4(masked) : masked;
  if (v4) return { net: v4, mask: mask.length === 16 ? mask.subarray(12) : mask };
  return { net: masked, mask };
}

function cidrContains(c: Cidr, ip16: Uint8Array): boolean {
  const ip = to4(ip16) ?? ip16;
  if (ip.length !== c.net.length) return false;
  for (let i = 0; i < ip.length; i++) if (((ip[i] ?? 0) & (c.mask[i] ?? 0)) !== ((c.net[i] ?? 0) & (c.mask[i] ?? 0))) return false;
  return true;
}

/** Go's net.SplitHostPort; undefined where it returns an error. */
function splitHostPort(hostport: string): { host: string; port: string } | undefined {
  const i = hostport.lastIndexOf(':');
  if (i < 0) return undefined;
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport[0] === '[') {
    const end = hostport.indexOf(']');
    if (end < 0 || end + 1 !== i) return undefined;
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) return undefined;
  }
  if (hostport.slice(j).includes('[') || hostport.slice(k).includes(']')) return undefined;
  return { host, port: hostport.slice(i + 1) };
}

interface NoProxy {
  all: boolean;
  cidrs: Cidr[];
  ips: { ip: Uint8Array; port: string }[];
  /** `host` always starts with "."; `matchHost` when the entry had no leading dot (or "*."). */
  domains: { host: string; port: string; matchHost: boolean }[];
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

function parseNoProxy(value: string): NoProxy {
  const np: NoProxy = { all: false, cidrs: [], ips: [], domains: [] };
  for (const raw of value.split(',')) {
    const p = raw.trim().toLowerCase();
    if (p === '') continue;
    if (p === '*') return { all: true, cidrs: [], ips: [], domains: [] };
    const cidr = parseCidr(p);
    if (cidr) {
      np.cidrs.push(cidr);
      continue;
    }
    let host = p;
    let port = '';
    const hp = splitHostPort(p);
    if (hp) {
      if (hp.host === '') continue;
      host = hp.host.startsWith('[') && hp.host.endsWith(']') ? hp.host.slice(1, -1) : hp.host;
      port = hp.port;
    }
    const ip = parseIP(host);
    if (ip) {
      np.ips.push({ ip, port });
      continue;
    }
    if (host === '') continue;
    if (host.startsWith('*.')) host = host.slice(1);
    const matchHost = !host.startsWith('.');
    if (matchHost) host = `.${host}`;
    if (!isAscii(host)) {
      const ascii = domainToASCII(host);
      if (ascii !== '') host = ascii;
    }
    np.domains.push({ host, port, matchHost });
  }
  return np;
}

// ---------------------------------------------------------------------------------------------------------
// Proxy values, read as Go's url.Parse would see them (only as far as deciding: is there a scheme and a host,
// or is it an error), then handed to the WHATWG parser that Node uses.

const CTL = /[\x00-\x1f\x7f]/;
const HOST_OK = /^[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"]$/;
const USERINFO = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

/** Go's url unescape: only whether it errors. `host` restricts escapes and plain ASCII as Go does in hosts. */
function escapesValid(s: string, mode: 'plain' | 'host' | 'zone'): boolean {
  for (let i = 0; i < s.length; ) {
    if (s[i] === '%') {
      if (i + 2 >= s.length || hexValue(s.charCodeAt(i + 1)) < 0 || hexValue(s.charCodeAt(i + 2)) < 0) return false;
      const triple = s.slice(i, i + 3);
      if (mode === 'host' && hexValue(s.charCodeAt(i + 1)) < 8 && triple !== '%25') return false;
      if (mode === 'zone' && triple !== '%25') {
        const v = String.fromCharCode(hexValue(s.charCodeAt(i + 1)) * 16 + hexValue(s.charCodeAt(i + 2)));
        if (v !== ' ' && !HOST_OK.test(v)) return false;
      }
      i += 3;
      continue;
    }
    if (mode !== 'plain' && s.charCodeAt(i) < 0x80 && !HOST_OK.test(s[i] ?? '')) return false;
    i++;
  }
  return true;
}

function validOptionalPort(colonPort: string): boolean {
  return colonPort === '' || /^:[0-9]*$/.test(colonPort);
}

/** Go's url.parseHost: the host text, or undefined for an error. */
function goParseHost(scheme: string, host: string): string | undefined {
  const open = host.lastIndexOf('[');
  if (open > 0) return undefined;
  if (open === 0) {
    const close = host.lastIndexOf(']');
    if (close < 0) return undefined;
    const colonPort = host.slice(close + 1);
    if (!validOptionalPort(colonPort)) return undefined;
    const name = host.slice(1, close);
    const zoneAt = name.indexOf('%25');
    const ok = zoneAt >= 0 ? escapesValid(name.slice(0, zoneAt), 'host') && escapesValid(name.slice(zoneAt), 'zone') : escapesValid(name, 'host');
    if (!ok) return undefined;
    const addr = parseAddr(zoneAt >= 0 ? `${name.slice(0, zoneAt)}%${decodeURIComponentLoose(name.slice(zoneAt + 3))}` : name);
    if (!addr || addr.is4) return undefined;
    return host;
  }
  const first = host.indexOf(':');
  if (first >= 0) {
    const last = host.lastIndexOf(':');
    const at = last !== first && scheme !== 'http' && scheme !== 'https' ? last : first;
    if (!validOptionalPort(host.slice(at))) return undefined;
  }
  return escapesValid(host, 'host') ? host : undefined;
}

function decodeURIComponentLoose(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** What Go's url.Parse makes of `raw`, reduced to scheme and host; undefined when it returns an error. */
function goUrlShape(raw: string): { scheme: string; host: string } | undefined {
  const hash = raw.indexOf('#');
  const u = hash < 0 ? raw : raw.slice(0, hash);
  if (CTL.test(u)) return undefined;
  if (u === '*') return { scheme: '', host: '' };
  let scheme = '';
  let rest = u;
  for (let i = 0; i < u.length; i++) {
    const c = u[i] ?? '';
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) return undefined;
      scheme = u.slice(0, i).toLowerCase();
      rest = u.slice(i + 1);
    }
    break;
  }
  if (rest.endsWith('?') && rest.indexOf('?') === rest.length - 1) rest = rest.slice(0, -1);
  else if (rest.includes('?')) rest = rest.slice(0, rest.indexOf('?'));
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { scheme, host: '' }; // opaque ("proxy:3128" is scheme "proxy")
    if ((rest.split('/', 1)[0] ?? '').includes(':')) return undefined;
  }
  let host = '';
  if ((scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    const at = authority.lastIndexOf('@');
    const parsed = goParseHost(scheme, at < 0 ? authority : authority.slice(at + 1));
    if (parsed === undefined) return undefined;
    host = parsed;
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      if (!USERINFO.test(userinfo) || !escapesValid(userinfo, 'plain')) return undefined;
    }
  }
  if (!escapesValid(rest, 'plain')) return undefined;
  if (hash >= 0 && !escapesValid(raw.slice(hash + 1), 'plain')) return undefined;
  return { scheme, host };
}

/** A proxy variable's value as Go's parseProxy reads it; `problem` when Go would use it but Node cannot. */
interface ProxySetting {
  variable: ProxyVariable;
  url?: URL;
  problem?: string;
}

function parseProxySetting(value: string, variable: ProxyVariable): ProxySetting | undefined {
  const first = goUrlShape(value);
  if (!first || first.scheme === '' || first.host === '') {
    const prefixed = `http://${value}`;
    const second = goUrlShape(prefixed);
    if (second) return usable(prefixed, second.host, variable);
  }
  if (!first) return undefined; // Go drops an unparseable value: no proxy
  return usable(value, first.host, variable);
}

function usable(text: string, host: string, variable: ProxyVariable): ProxySetting {
  if (host === '') return { variable, problem: `${variable} names no proxy host` };
  try {
    return { variable, url: new URL(text) };
  } catch {
    return { variable, problem: `${variable} is not a proxy URL that can be used` };
  }
}

// ---------------------------------------------------------------------------------------------------------

function firstSet<N extends string>(env: NodeJS.ProcessEnv, names: readonly N[]): { name: N; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return { name, value };
  }
  return undefined;
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** One environment's proxy settings, parsed once; `choose` decides per request URL. */
export class ProxyEnvironment {
  readonly #http: ProxySetting | undefined;
  readonly #https: ProxySetting | undefined;
  readonly #noProxy: NoProxy;
  readonly #cgi: boolean;

  private constructor(env: NodeJS.ProcessEnv) {
    const h = firstSet(env, ['HTTP_PROXY', 'http_proxy'] as const);
    const hs = firstSet(env, ['HTTPS_PROXY', 'https_proxy'] as const);
    this.#http = h && parseProxySetting(h.value, h.name);
    this.#https = hs && parseProxySetting(hs.value, hs.name);
    this.#noProxy = parseNoProxy(firstSet(env, ['NO_PROXY', 'no_proxy'])?.value ?? '');
    this.#cgi = (env['REQUEST_METHOD'] ?? '') !== '';
  }

  static #last: { key: string; value: ProxyEnvironment } | undefined;

  /** The settings in `env` (parsed once per distinct set of values). */
  static from(env: NodeJS.ProcessEnv): ProxyEnvironment {
    const key = JSON.stringify(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'REQUEST_METHOD'].map((n) => env[n] ?? ''));
    const last = ProxyEnvironment.#last;
    if (last?.key === key) return last.value;
    const value = new ProxyEnvironment(env);
    ProxyEnvironment.#last = { key, value };
    return value;
  }

  /** Whether any proxy variable is set at all (cheap test before per-request work). */
  get configured(): boolean {
    return this.#http !== undefined || this.#https !== undefined;
  }

  /**
   * The proxy for a request to `target`, or undefined to connect directly. Throws ProxyError where Go's
   * ProxyFromEnvironment returns an error (HTTP_PROXY under CGI) or where the chosen value cannot be used.
   */
  choose(target: URL): ProxyChoice | undefined {
    let setting: ProxySetting | undefined;
    if (target.protocol === 'https:') setting = this.#https;
    else if (target.protocol === 'http:') {
      setting = this.#http;
      if (setting && this.#cgi) {
        throw new ProxyError('REQUEST_METHOD', `refusing to use ${setting.variable} in a CGI environment (REQUEST_METHOD is set), as Go's net/http does; see golang.org/s/cgihttpproxy`);
      }
    }
    if (!setting) return undefined;
    if (!this.#useProxy(target)) return undefined;
    if (!setting.url) throw new ProxyError(setting.variable, setting.problem ?? `${setting.variable} cannot be used`);
    return { url: setting.url, variable: setting.variable };
  }

  #useProxy(target: URL): boolean {
    const hostname = target.hostname;
    const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
    const port = target.port || (DEFAULT_PORT[target.protocol] ?? '');
    if (host === 'localhost') return false;
    const addr = parseAddr(host);
    if (addr && isLoopback(addr.bytes)) return false;
    const np = this.#noProxy;
    if (np.all) return false;
    const name = host.trim().toLowerCase();
    if (addr) {
      for (const c of np.cidrs) if (cidrContains(c, addr.bytes)) return false;
      for (const m of np.ips) if (bytesEqual(m.ip, addr.bytes) && (m.port === '' || m.port === port)) return false;
      return true; // names never match an IP literal
    }
    for (const d of np.domains) {
      if (name.endsWith(d.host) || (d.matchHost && name === d.host.slice(1))) {
        if (d.port === '' || d.port === port) return false;
      }
    }
    return true;
  }
}

/**
 * The proxy Go's net/http would use for `url` under `env`, or undefined for a direct connection.
 * Throws ProxyError where Go returns an error (an http URL with HTTP_PROXY set while REQUEST_METHOD is set)
 * or where the chosen value has no usable host. The URL may be socks5:// or another scheme Go accepts;
 * `proxiedAgentOptions` refuses what Node cannot tunnel.
 */
export function proxyForUrl(url: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  return ProxyEnvironment.from(env).choose(url)?.url;
}

/**
 * Agent options that send requests for `targetProtocol` URLs through `choice` with Node's built-in tunnelling
 * (CONNECT for https targets, absolute-form requests for http ones; userinfo in the proxy URL is sent as
 * Proxy-Authorization: Basic). The agent gets no bypass list: the decision was made by `choose`.
 * Throws ProxyError for a proxy scheme other than http/https (socks5, socks5h, …).
 * Note: the TLS connection to an https:// proxy itself uses Node's default trust, not `base.ca`.
 */
export function proxiedAgentOptions<T extends Http.AgentOptions>(targetProtocol: 'http:' | 'https:', choice: ProxyChoice, base: T): T {
  const p = choice.url.protocol;
  if (p !== 'http:' && p !== 'https:') {
    throw new ProxyError(
      choice.variable,
      `${choice.variable} names a ${p.slice(0, -1)} proxy (${describeProxy(choice.url)}): only http:// and https:// proxies are supported`,
    );
  }
  const proxyEnv = targetProtocol === 'https:' ? { HTTPS_PROXY: choice.url.href } : { HTTP_PROXY: choice.url.href };
  return { ...base, proxyEnv };
}

export interface ProxyAgentsOptions {
  /** Read once, now (default process.env). */
  env?: NodeJS.ProcessEnv | undefined;
  /** Options of every agent for http URLs, direct or proxied. */
  http?: Http.AgentOptions | undefined;
  /** Options of every agent for https URLs (CA, client certificate, rejectUnauthorized…), direct or proxied. */
  https?: Https.AgentOptions | undefined;
}

export interface AgentChoice {
  agent: Http.Agent;
  /** The proxy the agent goes through; undefined for a direct connection. */
  proxy: ProxyChoice | undefined;
}

/**
 * The agents of one client: a direct one per scheme and one per (scheme, proxy) actually used, each created on
 * first use and kept, so keep-alive pools are reused across requests. `destroy` closes them all.
 */
export class ProxyAgents {
  readonly environment: ProxyEnvironment;
  readonly #options: { http: Http.AgentOptions; https: Https.AgentOptions };
  readonly #agents = new Map<string, Http.Agent>();

  constructor(options: ProxyAgentsOptions = {}) {
    this.environment = ProxyEnvironment.from(options.env ?? process.env);
    this.#options = { http: options.http ?? {}, https: options.https ?? {} };
  }

  /** The agent for a request to `target` (http: or https:). Throws ProxyError when its proxy cannot be used. */
  forUrl(target: URL): AgentChoice {
    const scheme = target.protocol === 'https:' ? 'https:' : 'http:';
    const proxy = this.environment.configured ? this.environment.choose(target) : undefined;
    const key = proxy ? `${scheme} ${proxy.url.href}` : scheme;
    let agent = this.#agents.get(key);
    if (!agent) {
      if (scheme === 'https:') agent = new https.Agent(proxy ? proxiedAgentOptions(scheme, proxy, this.#options.https) : this.#options.https);
      else agent = new http.Agent(proxy ? proxiedAgentOptions(scheme, proxy, this.#options.http) : this.#options.http);
      this.#agents.set(key, agent);
    }
    return { agent, proxy };
  }

  destroy(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}
