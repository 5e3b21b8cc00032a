import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST the receiver got, and what it answered. */
export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
  answered: number;
}

export interface WebhookReceiver {
  port: number;
  url(path: string): string;
  received: ReceivedWebhook[];
  /** The statuses to answer on `path`, one per request, before it answers 200 again. */
  failNext(path: string, ...statuses: number[]): void;
  /** Answers `status` on `path` until told otherwise (null: back to 200). */
  answerAlways(path: string, status: number | null): void;
  /** Requests to `path` answered 2xx, per webhook-id. */
  successesById(path?: string): Map<string, number>;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1 (node:http): records every request, answers as told. */
export async function startWebhookReceiver(port = 0): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const queued = new Map<string, number[]>();
  const always = new Map<string, number>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const path = request.url ?? '/';
      const answered = queued.get(path)?.shift() ?? always.get(path) ?? 200;
      received.push({
        path,
        headers: request.headers as Record<string, string>,
        body: Buffer.concat(chunks).toString('utf8'),
        answered,
      });
      response.writeHead(answered, { 'content-type': 'text/plain', connection: 'close' });
      response.end(answered < 300 ? 'ok' : 'unavailable');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: (path) => `http://127.0.0.1:${actual}${path}`,
    received,
    failNext: (path, ...statuses) => queued.set(path, [...(queued.get(path) ?? []), ...statuses]),
    answerAlways: (path, status) => (status === null ? always.delete(path) : always.set(path, status)),
    successesById(path) {
      const counts = new Map<string, number>();
      for (const r of received)
        if (r.answered < 300 && (path === undefined || r.path === path))
          counts.set(r.headers['webhook-id']!, (counts.get(r.headers['webhook-id']!) ?? 0) + 1);
      return counts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
