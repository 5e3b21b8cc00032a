import { describe, expect, it } from 'vitest';
import { readSse } from '../../src/client/sse.js';

const streamOf = (...chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });

describe('readSse', () => {
  it('parses ids, event names, multi-line data and comments across chunk boundaries', async () => {
    const messages = [];
    for await (const m of readSse(
      streamOf(': keep-alive\n\nid: 7\nevent: JobStarted\nda', 'ta: {"a":1}\r', '\n\r\ndata: x\ndata: y\n\n'),
    )) {
      messages.push(m);
    }
    expect(messages).toEqual([
      { id: '7', event: 'JobStarted', data: '{"a":1}' },
      { id: '7', event: 'message', data: 'x\ny' },
    ]);
  });

  it('drops a message cut off before its blank line', async () => {
    const messages = [];
    for await (const m of readSse(streamOf('id: 1\ndata: whole\n\nid: 2\ndata: cut'))) messages.push(m);
    expect(messages.map((m) => m.id)).toEqual(['1']);
  });
});
