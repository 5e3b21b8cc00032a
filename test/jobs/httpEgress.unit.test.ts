import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configureHttpEgress, guardedRequest, isPrivateAddress, parseAllowedHosts } from '../../src/jobs/egressGuard.js';
import { PermanentJobError } from '../../src/jobs/jobType.js';

describe('isPrivateAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['10.2.3.4', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['8.8.8.8', false],
    ['172.32.0.1', false],
    ['2606:4700::1111', false],
    ['not an address', true],
  ])('%s → %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });

  it('catches the decimal, hex and octal forms of 127.0.0.1 that URL parsing normalizes', () => {
    for (const form of ['http://2130706433/', 'http://0x7f000001/', 'http://0177.0.0.1/', 'http://127.1/']) {
      expect(isPrivateAddress(new URL(form).hostname)).toBe(true);
    }
  });
});

describe('guardedRequest against a local server', () => {
  let server: http.Server;
  let other: http.Server;
  let port: number;
  let otherPort: number;
  beforeAll(async () => {
    other = http.createServer((_req, res) => res.end('secret'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherPort = (other.address() as AddressInfo).port;
    server = http.createServer((req, res) => {
      if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${otherPort}/` }).end();
      else res.end('hello');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.close();
    other.close();
  });
  afterEach(() => configureHttpEgress(undefined));
  const get = (url: string) => guardedRequest(url, { method: 'GET', headers: {}, signal: AbortSignal.timeout(5000) });

  it('refuses loopback by default, by address and by name, with a permanent error that says how to allow it', async () => {
    await expect(get(`http://127.0.0.1:${port}/`)).rejects.toThrow(PermanentJobError);
    await expect(get(`http://localhost:${port}/`)).rejects.toThrow(/resolves to .*loopback\/private address; set HTTP_JOB_ALLOWED_HOSTS/);
  });

  it('allows an address:port on the allow-list, and nothing else', async () => {
    configureHttpEgress(`127.0.0.1:${port}`);
    expect(await get(`http://127.0.0.1:${port}/`)).toMatchObject({ status: 200, body: 'hello' });
    await expect(get(`http://127.0.0.1:${otherPort}/`)).rejects.toThrow(PermanentJobError);
  });

  it('checks every redirect hop: an allowed server cannot bounce the job to a refused one', async () => {
    configureHttpEgress(`127.0.0.1:${port}`);
    await expect(get(`http://127.0.0.1:${port}/redirect`)).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${otherPort} resolves to 127\\.0\\.0\\.1`));
    configureHttpEgress(`127.0.0.0/8`);
    expect(await get(`http://127.0.0.1:${port}/redirect`)).toMatchObject({ status: 200, body: 'secret' });
  });

  it('refuses other schemes', async () => {
    await expect(get('file:///etc/passwd')).rejects.toThrow(/file: URLs are not allowed/);
  });
});

describe('parseAllowedHosts', () => {
  it('reads names, addresses, CIDRs and ports', () => {
    const { allowed } = parseAllowedHosts(' internal.example.com, 10.1.2.3, 192.168.0.0/16:8080, [::1]:9000 ');
    expect(allowed.map((e) => [e.host ?? 'subnet', e.port ?? null])).toEqual([
      ['internal.example.com', null],
      ['subnet', null],
      ['subnet', 8080],
      ['subnet', 9000],
    ]);
  });
});
