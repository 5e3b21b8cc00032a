import { Hono } from 'hono';
import type { MetricsSources } from '../metrics.js';
import { createMetrics } from '../metrics.js';

export interface OpsDeps extends MetricsSources {
  /** Resolves when Temporal answers. */
  temporalReachable(): Promise<void>;
  /** Throws when the store cannot take a write. */
  storeWritable(): void;
  /** Readiness fails above this many unprojected events. */
  maxProjectorLag?: number;
}

/** /healthz, /readyz and /metrics: no auth, for orchestrators and Prometheus. */
export function opsRoutes(deps: OpsDeps) {
  const app = new Hono();
  const metrics = createMetrics(deps);
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const checks: Record<string, { ok: boolean; details?: string }> = {};
    try {
      await Promise.race([
        deps.temporalReachable(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000)),
      ]);
      checks.temporal = { ok: true };
    } catch (error) {
      checks.temporal = { ok: false, details: (error as Error).message };
    }
    try {
      deps.storeWritable();
      checks.store = { ok: true };
    } catch (error) {
      checks.store = { ok: false, details: (error as Error).message };
    }
    const lag = Math.max(0, deps.lastPosition() - deps.checkpoint());
    const bound = deps.maxProjectorLag ?? 10_000;
    checks.projector = { ok: lag <= bound, details: `lag ${lag} events (bound ${bound})` };
    const ready = Object.values(checks).every((check) => check.ok);
    return c.json({ status: ready ? 'ready' : 'not ready', checks }, ready ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    c.header('content-type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
  return { app, middleware: metrics.middleware };
}
