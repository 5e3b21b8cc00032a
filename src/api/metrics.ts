import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MiddlewareHandler } from 'hono';
import { appendHealth } from '../eventstore/appendHealth.js';

export interface MetricsSources {
  countByStatus(): Record<string, number>;
  lastPosition(): number;
  checkpoint(): number;
}

/** Prometheus metrics of one API process; gauges are read from the read model when scraped. */
export function createMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'jobs_by_status',
    help: 'Jobs in the read model, by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [status, count] of Object.entries(sources.countByStatus())) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'jobs_dead',
    help: 'Failed jobs (a permanent error or their retries exhausted): the dead-letter view, GET /api/v1/jobs/dead',
    registers: [registry],
    collect() {
      this.set(sources.countByStatus().failed ?? 0);
    },
  });
  new Gauge({
    name: 'eventstore_last_position',
    help: 'Global position of the newest event in the log (its rate is appends/s)',
    registers: [registry],
    collect() {
      this.set(sources.lastPosition());
    },
  });
  new Gauge({
    name: 'eventstore_append_failures_total',
    help: 'Failed append calls of the event store in this process (the store owner), by error; the workflows retry them without end, so a rising value means jobs are waiting on their record',
    labelNames: ['error'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [error, count] of Object.entries(appendHealth().failures)) this.set({ error }, count);
    },
  });
  new Gauge({
    name: 'projector_lag_events',
    help: 'Events in the log not yet applied to the read model',
    registers: [registry],
    collect() {
      this.set(Math.max(0, sources.lastPosition() - sources.checkpoint()));
    },
  });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const middleware: MiddlewareHandler = async (c, next) => {
    const start = performance.now();
    await next();
    const route = c.req.routePath || 'unmatched';
    latency.observe({ method: c.req.method, route }, (performance.now() - start) / 1000);
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
  };
  return { registry, middleware };
}
