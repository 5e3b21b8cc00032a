import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { ApiDeps, AppEnv } from '../context.js';
import { badRequest } from '../errors.js';
import { validationHook } from '../validation.js';

const JobEventsQuery = z.object({
  job_id: z.string().max(200).optional(),
  batch_id: z.string().max(200).optional(),
  /** Resume after this global position (same as the Last-Event-ID header). */
  after: z.coerce.number().int().min(0).optional(),
});

/**
 * GET /jobs/events: Server-Sent Events of job changes, straight from the log. Each message's id is the
 * event's global position, so a client that reconnects with Last-Event-ID misses nothing and sees
 * nothing twice. Users see only their own jobs' events.
 */
export function jobEventRoutes(deps: ApiDeps, options: { heartbeatMs?: number } = {}) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/events',
      tags: ['jobs'],
      summary: 'Live job changes as Server-Sent Events (resumable with Last-Event-ID)',
      request: { query: JobEventsQuery },
      responses: { 200: { description: 'text/event-stream; each message: id = global position, event = type, data = JSON' } },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const user = c.get('user');
      const header = c.req.header('last-event-id');
      if (header !== undefined && !/^\d+$/.test(header)) throw badRequest('Last-Event-ID: must be a global position (integer)');
      let position = header !== undefined ? Number(header) : (query.after ?? deps.events.lastPosition());
      // Whose job each stream is, from the stream itself (its JobSubmitted), never from the read
      // model: the projector may not have written the row yet when the job's first events stream by.
      // Only answers are cached; a stream without a JobSubmitted yet is looked up again next time.
      const owners = new Map<string, { owner: string; batchId: string | null }>();
      const jobOf = (id: string) => {
        let job = owners.get(id);
        if (!job) {
          const first = deps.events.readStream(id, { maxCount: 1 })[0];
          const data = first?.type === 'JobSubmitted' ? (first.data as { owner?: string; batchId?: string | null }) : undefined;
          if (data?.owner) owners.set(id, (job = { owner: data.owner, batchId: data.batchId ?? null }));
        }
        return job;
      };
      return streamSSE(c, async (stream) => {
        const abort = new AbortController();
        stream.onAbort(() => abort.abort());
        let lastBeat = Date.now();
        while (!abort.signal.aborted) {
          const events = deps.events.readAll({ fromPosition: position, limit: 500 });
          for (const event of events) {
            position = event.globalPosition;
            if (!event.type.startsWith('Job')) continue;
            if (query.job_id && event.streamId !== query.job_id) continue;
            const job = jobOf(event.streamId);
            if (user.role !== 'admin' && job?.owner !== user.id) continue;
            if (query.batch_id && job?.batchId !== query.batch_id) continue;
            await stream.writeSSE({
              id: String(event.globalPosition),
              event: event.type,
              data: JSON.stringify({
                job_id: event.streamId,
                version: event.streamVersion,
                type: event.type,
                data: event.data,
                metadata: event.metadata,
                recorded_at: event.recordedAt,
              }),
            });
          }
          if (events.length > 0) continue;
          if (Date.now() - lastBeat > (options.heartbeatMs ?? 15_000)) {
            await stream.write(': keep-alive\n\n');
            lastBeat = Date.now();
          }
          await deps.events.waitForEvents(position, { timeoutMs: 1000, signal: abort.signal });
        }
      });
    },
  );
  return app;
}
