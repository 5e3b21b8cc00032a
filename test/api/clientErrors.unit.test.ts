import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installClientErrorHandler } from '../../src/api/clientErrors.js';

let server: http.Server;
let port: number;

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end('ok'));
  installClientErrorHandler(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server.close());

/** Sends raw bytes, returns everything the server answers until it closes. */
const raw = (request: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(request));
    let answer = '';
    socket.on('data', (d) => (answer += d));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });

describe('requests Node rejects before routing', () => {
  it('a 100 kB URL gets 431 in the error format', async () => {
    const answer = await raw(`GET /api/v1/jobs/${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(Object.keys(body).sort()).toEqual(['details', 'error', 'timestamp']);
    expect(body.error).toBe('Request Header Fields Too Large');
  });

  it('malformed HTTP gets 400 in the error format', async () => {
    const answer = await raw('NONSENSE\r\n\r\n');
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).details).toMatch(/^Malformed HTTP request/);
  });
});
