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
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  denied.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 of any IPv4 address
] as const)
  denied.addSubnet(address, prefix, 'ipv6');

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:127.0.0.1), else the address itself. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hexMapped) {
    const n = (parseInt(hexMapped[1]!, 16) << 16) | parseInt(hexMapped[2]!, 16);
    return { address: [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), family: 'ipv4' };
  }
  return { address, family: net.isIPv6(address) ? 'ipv6' : 'ipv4' };
}

/** True for the addresses refused by default (loopback, private, link-local, …). */
export function isPrivateAddress(address: string): boolean {
  const { address: a, family } = unmapped(address);
  if (!net.isIP(a)) return true; // not an address at all: refuse
  return denied.check(a, family);
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

/** Parses HTTP_JOB_ALLOWED_HOSTS: `internal.example.com, 10.1.2.3, 192.168.0.0/16, 127.0.0.1:8080, [::1]:9000`. */
export function parseAllowedHosts(value: string | undefined): EgressPolicy {
  const allowed: AllowEntry[] = [];
  for (const raw of (value ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
    const hostPort = /^([^:/]+|[^/]+\/\d+)(?::(\d+))?$/.exec(raw);
    const [host, port] = bracketed ? [bracketed[1]!, bracketed[2]] : net.isIPv6(raw) ? [raw, undefined] : hostPort ? [hostPort[1]!, hostPort[2]] : [raw, undefined];
    const entry: AllowEntry = port ? { port: Number(port) } : {};
    const cidr = /^(.+)\/(\d+)$/.exec(host);
    if (cidr || net.isIP(host)) {
      const address = cidr ? cidr[1]! : host;
      const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
      const prefix = cidr ? Number(cidr[2]) : family === 'ipv6' ? 128 : 32;
      entry.subnet = new net.BlockList();
      entry.subnet.addSubnet(address, prefix, family);
    } else {
      entry.host = host.toLowerCase();
    }
    allowed.push(entry);
  }
  return { allowed };
}

let policy: EgressPolicy = { allowed: [] };

/** Sets the allow-list of the `http` job type (the engine passes HTTP_JOB_ALLOWED_HOSTS from its config). */
export function configureHttpEgress(allowedHosts: string | undefined): void {
  policy = parseAllowedHosts(allowedHosts);
}

const portOf = (url: URL) => Number(url.port || (url.protocol === 'https:' ? 443 : 80));

function allowedByName(url: URL): boolean {
  const host = url.hostname.toLowerCase();
  return policy.allowed.some((e) => e.host === host && (e.port === undefined || e.port === portOf(url)));
}

function allowedAddress(address: string, port: number): boolean {
  const { address: a, family } = unmapped(address);
  return policy.allowed.some((e) => e.subnet?.check(a, family) && (e.port === undefined || e.port === port));
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

export interface GuardedResponse {
  status: number;
  body: string;
  /** The URL that answered (after redirects). */
  url: string;
}

const MAX_REDIRECTS = 5;
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * An HTTP request under the egress policy: only http/https, every connection's address checked,
 * redirects followed by hand (at most 5, each hop checked again; 303 and POST→GET as browsers do).
 */
export async function guardedRequest(
  target: string,
  options: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<GuardedResponse> {
  let url = new URL(target);
  let { method, body } = options;
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PermanentJobError(`http job: ${url.protocol} URLs are not allowed`);
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(literal)) checkAddress(url, literal); // no DNS lookup happens for a literal address
    const response = await requestOnce(url, method, options.headers, body, options.signal);
    const location = response.headers.location;
    if (response.status >= 300 && response.status < 400 && location) {
      if (hop >= MAX_REDIRECTS) throw new PermanentJobError(`http job: more than ${MAX_REDIRECTS} redirects from ${target}`);
      url = new URL(location, url);
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
    let lookupError: Error | undefined;
    const request = client.request(
      url,
      {
        method,
        headers,
        signal,
        // Every address the socket may connect to is checked here, after resolution.
        lookup: (hostname, lookupOptions, callback) => {
          dns.lookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
            if (error) return callback(error, '', 4);
            try {
              for (const a of addresses) checkAddress(url, a.address);
            } catch (refused) {
              lookupError = refused as Error;
              return callback(refused as Error, '', 4);
            }
            if ((lookupOptions as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
            callback(null, addresses[0]!.address, addresses[0]!.family);
          });
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) request.destroy(new PermanentJobError(`http job: response larger than ${MAX_BODY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', (error) => reject(lookupError ?? error));
    request.end(body);
  });
}
