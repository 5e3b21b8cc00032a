/**
 * Requests Node's HTTP parser rejects before any route sees them (a URL or headers over the limit,
 * malformed HTTP) get an answer in the API's error format instead of Node's empty one.
 */
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from './errors.js';

const STATUS_OF: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'The URL or the headers are larger than the server accepts (16 KiB)',
  ],
  HPE_URI_TOO_LONG: [414, 'URI Too Long', 'The URL is longer than the server accepts'],
};

export function installClientErrorHandler(server: Pick<Server, 'on'>): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const [status, phrase, details] = STATUS_OF[error.code ?? ''] ?? [
      400,
      'Bad Request',
      `Malformed HTTP request (${error.code ?? error.message})`,
    ];
    const body = JSON.stringify({ ...errorBody(status, details), error: phrase });
    socket.end(
      `HTTP/1.1 ${status} ${phrase}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
