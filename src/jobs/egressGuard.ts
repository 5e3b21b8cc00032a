/**
 * Where the `http` job type may connect. By default nowhere private: loopback, link-local (cloud
 * metadata), private, CGNAT, unspecified, multicast and broadcast addresses are refused — otherwise
 * any user could make the server fetch its own Temporal UI or an internal service. The address is
 * checked where the socket connects (after DNS resolution, so a name that resolves to a private
 * address, or re-resolves to one later, cannot slip through) and again on every redirect hop.
 * Operators widen it with HTTP_JOB_ALLOWED_HOSTS; job input cannot.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { PermanentJobError } from './jobType.js';

const denied = new net.BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified (Linux connects 0.0.0.0 to the local host)
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
] as const)
  denied.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of [
  ['::', 96], // unspecified (::), loopback (::1) and the deprecated IPv4-compatible ::a.b.c.d
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT) ::ffff:0:a.b.c.d
  ['64:ff9b::', 96], // NAT64 of any IPv4 address
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
] as const)
  denied.addSubnet(address, prefix, 'ipv6');
// IPv4-mapped addresses (::ffff:a.b.c.d, which URL parsing writes as ::ffff:7f00:1) are matched
// against the IPv4 rules by BlockList itself; 6to4 (2002:aabb:ccdd::) is unwrapped below.

/** The IPv4 address a 6to4 address (2002:aabb:ccdd::/48) embeds, if it is one. */
function sixToFourIPv4(address: string): string | undefined {
  const m = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4})(:|$)/i.exec(address);
  if (!m) return undefined;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** True for the addresses refused by default (loopback, private, link-local, …); also for anything
 * that is not an IP address at all, so a surprise can only ever refuse. */
export function isPrivateAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '');
  const family = net.isIP(a);
  if (family === 4) return denied.check(a, 'ipv4');
  if (family !== 6) return true;
  if (denied.check(a, 'ipv6')) return true;
  const embedded = sixToFourIPv4(a);
  return embedded !== undefined && denied.check(embedded, 'ipv4');
}

/** An allow-list entry: a host name, an IP or a CIDR, each optionally with `:port`. */
interface AllowEntry {
  host?: string;
  subnet?: net.BlockList;
  port?: number;
}

export interface EgressPolicy {
  allowed: AllowEntry[];
}

/** Host names compare without case and without a trailing dot (`localhost.` is `localhost`). */
const normalizeName = (name: string) => name.toLowerCase().replace(/\.$/, '');

/**
 * Parses HTTP_JOB_ALLOWED_HOSTS: `internal.example.com, 10.1.2.3, 192.168.0.0/16, 127.0.0.1:8080,
 * [::1]:9000, [fd00::/8]`. An entry it cannot read is an error (thrown at start), never ignored.
 */
export function parseAllowedHosts(value: string | undefined): EgressPolicy {
  const allowed: AllowEntry[] = [];
  for (const raw of (value ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const bad = (why: string) => new Error(`HTTP_JOB_ALLOWED_HOSTS: cannot read ${JSON.stringify(raw)}: ${why}`);
    // [v6 or v6/cidr]:port, bare v6 (or v6/cidr), or name|v4|v4/cidr with an optional :port.
    const bracketed = /^\[([^\]]+)\](?::([^:]*))?$/.exec(raw);
    const hostPort = /^([^:]+)(?::([^:]*))?$/.exec(raw);
    const bareV6 = !bracketed && !hostPort && net.isIPv6(raw.replace(/\/\d+$/, ''));
    const [host, port] = bracketed
      ? [bracketed[1]!, bracketed[2]]
      : bareV6
        ? [raw, undefined]
        : hostPort
          ? [hostPort[1]!, hostPort[2]]
          : [undefined, undefined];
    if (!host) throw bad('expected host, IP or CIDR, optionally with :port (IPv6 in brackets when a port follows)');
    const entry: AllowEntry = {};
    if (port !== undefined) {
      if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw bad('the port must be 1-65535');
      entry.port = Number(port);
    }
    const cidr = /^(.+)\/(\d{1,3})$/.exec(host);
    const address = cidr ? cidr[1]! : host;
    if (cidr || net.isIP(address)) {
      const family = net.isIPv6(address) ? 'ipv6' : net.isIPv4(address) ? 'ipv4' : undefined;
      if (!family) throw bad('not an IP address before the /');
      const prefix = cidr ? Number(cidr[2]) : family === 'ipv6' ? 128 : 32;
      if (prefix > (family === 'ipv6' ? 128 : 32)) throw bad('prefix too long');
      entry.subnet = new net.BlockList();
      entry.subnet.addSubnet(address, prefix, family);
    } else {
      if (!/^[a-z0-9_.-]+$/i.test(host)) throw bad('not a host name');
      entry.host = normalizeName(host);
    }
    allowed.push(entry);
  }
  return { allowed };
}

/** The allow-list in force: empty (public addresses only) until the process configures one. */
let policy: EgressPolicy = { allowed: [] };

/** Sets the allow-list of the `http` job type (startEngine and `npm run worker` pass
 * HTTP_JOB_ALLOWED_HOSTS from the config reader). Operator configuration only: nothing in a job's
 * input reaches it. */
export function configureHttpEgress(allowedHosts: string | undefined): void {
  policy = parseAllowedHosts(allowedHosts);
}

const portOf = (url: URL) => Number(url.port || (url.protocol === 'https:' ? 443 : 80));

function allowedByName(url: URL): boolean {
  const host = normalizeName(url.hostname);
  return policy.allowed.some((e) => e.host === host && (e.port === undefined || e.port === portOf(url)));
}

function allowedAddress(address: string, port: number): boolean {
  const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
  return policy.allowed.some((e) => e.subnet?.check(address, family) && (e.port === undefined || e.port === port));
}

function refusal(url: URL, address: string): PermanentJobError {
  return new PermanentJobError(
    `http job: ${url.host} resolves to ${address}, a loopback/private address; set HTTP_JOB_ALLOWED_HOSTS to allow it`,
  );
}

/** Checks an address the socket is about to connect to. */
function checkAddress(url: URL, address: string): void {
  if (allowedByName(url) || allowedAddress(address, portOf(url))) return;
  if (isPrivateAddress(address)) throw refusal(url, address);
}

/**
 * Why a request to `target` would be refused, when that can be told without connecting: a URL that
 * does not parse, a scheme other than http/https, a loopback/private address literal or a
 * `localhost` name the allow-list does not name. Null otherwise — a name that resolves to a private
 * address is refused where the socket connects (guardedRequest), not here.
 */
export function staticEgressRefusal(target: string): string | null {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${url.protocol} URLs are not allowed (http or https)`;
  if (url.username || url.password) return 'no credentials in the URL';
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  const name = normalizeName(literal);
  const local = net.isIP(literal) ? isPrivateAddress(literal) : name === 'localhost' || name.endsWith('.localhost');
  if (!local || allowedByName(url) || (net.isIP(literal) && allowedAddress(literal, portOf(url)))) return null;
  return `${url.host} is a loopback/private address; set HTTP_JOB_ALLOWED_HOSTS to allow it`;
}

export interface GuardedResponse {
  status: number;
  body: string;
  /** The URL that answered (after redirects). */
  url: string;
}

const MAX_REDIRECTS = 5;
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Credentials the caller meant for one origin: not sent on to another one a redirect names. */
const ORIGIN_BOUND_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * An HTTP request under the egress policy: only http/https, every connection's address checked,
 * redirects followed by hand (at most 5, each hop's URL and address checked again; 303, and POST
 * after 301/302, become GET as browsers do; credentials are dropped when the origin changes).
 */
export async function guardedRequest(
  target: string,
  options: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<GuardedResponse> {
  let url = new URL(target);
  let { method, body, headers } = options;
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new PermanentJobError(`http job: ${url.protocol} URLs are not allowed`);
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(literal)) checkAddress(url, literal); // no DNS lookup happens for a literal address
    const response = await requestOnce(url, method, headers, body, options.signal);
    const location = response.headers.location;
    if (REDIRECT_STATUSES.has(response.status) && location) {
      if (hop >= MAX_REDIRECTS) throw new PermanentJobError(`http job: more than ${MAX_REDIRECTS} redirects from ${target}`);
      const next = new URL(location, url);
      if (next.origin !== url.origin)
        headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !ORIGIN_BOUND_HEADERS.has(name.toLowerCase())));
      url = next;
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      continue;
    }
    return { status: response.status, body: response.body, url: url.href };
  }
}

function requestOnce(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // Our own refusals win over the socket errors they cause.
    let refusedWith: Error | undefined;
    const request = client.request(
      url,
      {
        method,
        headers,
        signal,
        // A connection of its own: a pooled keep-alive socket (the global agent's, opened by other
        // code in this process, to a loopback port for instance) would skip the lookup check below.
        agent: false,
        // Every address the socket may connect to is checked here, after resolution, and the socket
        // connects only to the addresses checked: a name cannot re-resolve in between (DNS rebinding).
        lookup: (hostname, lookupOptions, callback) => {
          dns.lookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
            if (error) return callback(error, '', 4);
            try {
              if (addresses.length === 0) throw new Error(`http job: ${hostname} has no address`);
              for (const a of addresses) checkAddress(url, a.address);
            } catch (refused) {
              refusedWith = refused as Error;
              return callback(refused as Error, '', 4);
            }
            if ((lookupOptions as { all?: boolean }).all)
              return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
            callback(null, addresses[0]!.address, addresses[0]!.family);
          });
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
          refusedWith ??= new PermanentJobError(`http job: response larger than ${MAX_BODY_BYTES} bytes`);
          reject(refusedWith);
          request.destroy();
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', (error) => reject(refusedWith ?? error));
      },
    );
    request.on('error', (error) => reject(refusedWith ?? error));
    request.end(body);
  });
}
