import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { configureHttpEgress, guardedRequest, isPrivateAddress, parseAllowedHosts } from '../../src/jobs/egressGuard.js';
import { PermanentJobError } from '../../src/jobs/jobType.js';

describe('isPrivateAddress', () => {
  it.each([
    // loopback
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['[::1]', true],
    // IPv4-mapped, -translated and -compatible IPv6 forms of loopback, as written and as URL parsing writes them
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:0:7f00:1', true],
    ['::7f00:1', true],
    ['64:ff9b::7f00:1', true],
    ['2002:7f00:1::1', true], // 6to4 around 127.0.0.1
    // private
    ['10.2.3.4', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['::ffff:a00:1', true], // ::ffff:10.0.0.1
    ['fd00::1', true],
    ['fc00::', true],
    // link-local, cloud metadata
    ['169.254.169.254', true],
    ['::ffff:a9fe:a9fe', true],
    ['fe80::1', true],
    // CGNAT, unspecified, multicast, broadcast
    ['100.64.0.1', true],
    ['100.127.255.255', true],
    ['0.0.0.0', true],
    ['::', true],
    ['224.0.0.1', true],
    ['ff02::1', true],
    ['255.255.255.255', true],
    // public, including the neighbours of the refused ranges
    ['8.8.8.8', false],
    ['1.1.1.1', false],
    ['172.15.255.255', false],
    ['172.32.0.1', false],
    ['100.63.255.255', false],
    ['100.128.0.1', false],
    ['169.253.255.255', false],
    ['192.169.0.1', false],
    ['11.0.0.1', false],
    ['::ffff:808:808', false], // ::ffff:8.8.8.8
    ['2606:4700::1111', false],
    ['2002:808:808::1', false], // 6to4 around 8.8.8.8
    // not an address: refused, so a surprise can only ever refuse
    ['not an address', true],
    ['', true],
  ])('%s → %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });

  it.each([
    ['http://2130706433/', '127.0.0.1'], // decimal
    ['http://0x7f000001/', '127.0.0.1'], // hex
    ['http://017700000001/', '127.0.0.1'], // octal
    ['http://0177.0.0.1/', '127.0.0.1'], // octal octet
    ['http://0x7f.1/', '127.0.0.1'], // mixed, short form
    ['http://127.1/', '127.0.0.1'],
    ['http://0/', '0.0.0.0'],
    ['http://2852039166/', '169.254.169.254'], // metadata, decimal
    ['http://0xa9fea9fe/', '169.254.169.254'], // metadata, hex
    ['http://0251.0376.0251.0376/', '169.254.169.254'], // metadata, octal
    ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]'],
    ['http://[0:0:0:0:0:ffff:169.254.169.254]/', '[::ffff:a9fe:a9fe]'],
  ])('%s (URL host %s) is refused', (url, hostname) => {
    expect(new URL(url).hostname).toBe(hostname);
    expect(isPrivateAddress(new URL(url).hostname)).toBe(true);
  });
});

describe('guardedRequest against local servers', () => {
  let server: http.Server;
  let other: http.Server;
  let port: number;
  let otherPort: number;
  let serverHits = 0;
  let otherHits = 0;
  let otherSawAuthorization: string | undefined;
  beforeAll(async () => {
    other = http.createServer((req, res) => {
      otherHits++;
      otherSawAuthorization = req.headers.authorization;
      res.end('secret');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherPort = (other.address() as AddressInfo).port;
    server = http.createServer((req, res) => {
      serverHits++;
      const hops = /^\/loop\/(\d+)$/.exec(req.url ?? '');
      if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${otherPort}/` }).end();
      else if (req.url === '/redirect-by-name') res.writeHead(307, { location: `http://localhost:${otherPort}/` }).end();
      else if (req.url === '/redirect-to-file') res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      else if (req.url === '/huge') res.end(Buffer.alloc(11 * 1024 * 1024, 'x'));
      else if (hops) res.writeHead(302, { location: `/loop/${Number(hops[1]) + 1}` }).end();
      else res.end('hello');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.close();
    other.close();
  });
  beforeEach(() => {
    serverHits = 0;
    otherHits = 0;
    configureHttpEgress(undefined);
  });
  afterEach(() => configureHttpEgress(undefined));
  const get = (url: string, headers: Record<string, string> = {}) =>
    guardedRequest(url, { method: 'GET', headers, signal: AbortSignal.timeout(5000) });

  it('refuses loopback by default, by address and by name, with a permanent error that says how to allow it, before any byte reaches the server', async () => {
    await expect(get(`http://127.0.0.1:${port}/`)).rejects.toThrow(PermanentJobError);
    await expect(get(`http://localhost:${port}/`)).rejects.toThrow(
      new RegExp(
        `^http job: localhost:${port} resolves to (127\\.0\\.0\\.1|::1), a loopback/private address; set HTTP_JOB_ALLOWED_HOSTS to allow it$`,
      ),
    );
    await expect(get(`http://0x7f000001:${port}/`)).rejects.toThrow(/resolves to 127\.0\.0\.1/);
    await expect(get(`http://[::ffff:127.0.0.1]:${port}/`)).rejects.toThrow(/resolves to ::ffff:7f00:1/);
    expect(serverHits).toBe(0);
  });

  it('does not reuse a pooled keep-alive socket that skipped the address check', async () => {
    // Some other code of this process talked to the loopback server through the global agent and
    // left a keep-alive socket in its pool.
    const agent = new http.Agent({ keepAlive: true });
    const original = http.globalAgent;
    http.globalAgent = agent;
    try {
      await new Promise<void>((resolve, reject) =>
        http.get(`http://localhost:${port}/`, (res) => res.resume().on('end', resolve)).on('error', reject),
      );
      await new Promise((r) => setTimeout(r, 20)); // the socket goes back to the pool
      expect(Object.keys(agent.freeSockets)).not.toHaveLength(0);
      await expect(get(`http://localhost:${port}/`)).rejects.toThrow(PermanentJobError);
      expect(serverHits).toBe(1);
    } finally {
      http.globalAgent = original;
      agent.destroy();
    }
  });

  it('allows an address:port on the allow-list, and nothing else', async () => {
    configureHttpEgress(`127.0.0.1:${port}`);
    expect(await get(`http://127.0.0.1:${port}/`)).toMatchObject({ status: 200, body: 'hello' });
    await expect(get(`http://127.0.0.1:${otherPort}/`)).rejects.toThrow(PermanentJobError);
    expect(otherHits).toBe(0);
  });

  it('allows a host name on the allow-list whatever it resolves to', async () => {
    configureHttpEgress(`localhost:${port}`);
    expect(await get(`http://localhost:${port}/`)).toMatchObject({ status: 200, body: 'hello' });
    expect(await get(`http://LOCALHOST:${port}/`)).toMatchObject({ status: 200, body: 'hello' });
    await expect(get(`http://127.0.0.1:${port}/`)).rejects.toThrow(PermanentJobError); // the name was allowed, not the address
  });

  it('checks every redirect hop: an allowed server cannot bounce the job to a refused one', async () => {
    configureHttpEgress(`127.0.0.1:${port}`);
    await expect(get(`http://127.0.0.1:${port}/redirect`)).rejects.toThrow(
      new RegExp(`127\\.0\\.0\\.1:${otherPort} resolves to 127\\.0\\.0\\.1`),
    );
    await expect(get(`http://127.0.0.1:${port}/redirect-by-name`)).rejects.toThrow(
      new RegExp(`localhost:${otherPort} resolves to`),
    );
    await expect(get(`http://127.0.0.1:${port}/redirect-to-file`)).rejects.toThrow(/file: URLs are not allowed/);
    expect(otherHits).toBe(0);
    configureHttpEgress(`127.0.0.0/8`);
    expect(await get(`http://127.0.0.1:${port}/redirect`)).toMatchObject({
      status: 200,
      body: 'secret',
      url: `http://127.0.0.1:${otherPort}/`,
    });
  });

  it('follows at most 5 redirects', async () => {
    configureHttpEgress(`127.0.0.1:${port}`);
    await expect(get(`http://127.0.0.1:${port}/loop/0`)).rejects.toThrow(/more than 5 redirects/);
    expect(serverHits).toBe(6);
  });

  it('does not carry credentials to another origin on a redirect', async () => {
    configureHttpEgress(`127.0.0.0/8`);
    await get(`http://127.0.0.1:${port}/redirect`, { Authorization: 'Bearer for-the-first-server' });
    expect(otherHits).toBe(1);
    expect(otherSawAuthorization).toBeUndefined();
    await get(`http://127.0.0.1:${otherPort}/`, { Authorization: 'Bearer for-the-other-server' });
    expect(otherSawAuthorization).toBe('Bearer for-the-other-server');
  });

  it('fails permanently on a response body over 10 MiB', async () => {
    configureHttpEgress(`127.0.0.1:${port}`);
    await expect(get(`http://127.0.0.1:${port}/huge`)).rejects.toThrow(/^http job: response larger than 10485760 bytes$/);
  });

  it('refuses other schemes', async () => {
    await expect(get('file:///etc/passwd')).rejects.toThrow(/file: URLs are not allowed/);
  });
});

describe('the allow-list', () => {
  it('reads names, addresses, CIDRs and ports', () => {
    const { allowed } = parseAllowedHosts(
      ' internal.example.com, 10.1.2.3, 192.168.0.0/16:8080, [::1]:9000, fd00::/8, [fe80::/10]:80, svc.local.:443 ',
    );
    expect(allowed.map((e) => [e.host ?? 'subnet', e.port ?? null])).toEqual([
      ['internal.example.com', null],
      ['subnet', null],
      ['subnet', 8080],
      ['subnet', 9000],
      ['subnet', null],
      ['subnet', 80],
      ['svc.local', 443],
    ]);
    expect(allowed[2]!.subnet!.check('192.168.44.5', 'ipv4')).toBe(true);
    expect(allowed[4]!.subnet!.check('fd12::1', 'ipv6')).toBe(true);
  });

  it.each(['localhost:abc', 'localhost:0', '10.0.0.0/33', '10.0.0.x/8', 'two words', '[::1]:', 'http://example.com'])(
    'refuses an entry it cannot read: %s',
    (entry) => {
      expect(() => parseAllowedHosts(entry)).toThrow(/HTTP_JOB_ALLOWED_HOSTS: cannot read/);
    },
  );

  it('refuses private addresses until the process configures an allow-list (nothing is read from elsewhere)', async () => {
    const server = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      vi.resetModules();
      const fresh = await import('../../src/jobs/egressGuard.js');
      const request = () =>
        fresh.guardedRequest(`http://127.0.0.1:${port}/`, { method: 'GET', headers: {}, signal: AbortSignal.timeout(5000) });
      await expect(request()).rejects.toThrow(/loopback\/private address/);
      fresh.configureHttpEgress(`127.0.0.1:${port}`);
      expect(await request()).toMatchObject({ status: 200, body: 'hello' });
    } finally {
      vi.resetModules();
      server.close();
    }
  });
});
