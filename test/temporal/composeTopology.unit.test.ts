// docker-compose.yml, parsed: its services, their order, healthchecks and ports, and the engine's
// environment against what src/config.ts reads. No Docker engine runs here; test:cluster runs the
// same topology from the same file (test/support/cluster.ts) on a locally built server.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { PROJECT_ROOT } from '../../src/temporal/cliBinary.js';
import { interpolateCompose, readCompose, serviceEnv } from '../support/compose.js';

const compose = readCompose();
const services = compose.services;
const SECRETS = { POSTGRES_PASSWORD: 'pg-secret', JWT_SECRET: 'jwt-secret' };

/** Every environment variable loadConfig reads (it reads them all on every call). */
function variablesConfigReads(): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({} as NodeJS.ProcessEnv, {
    get(_target, key) {
      if (typeof key === 'string') read.add(key);
      return undefined;
    },
  });
  loadConfig(env);
  return read;
}

describe('docker-compose.yml topology', () => {
  it('has exactly the stack the README describes', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'postgresql', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker'].sort(),
    );
  });

  it('starts each service after what it needs, and one-shot services only once', () => {
    const dependsOn = (name: string) =>
      Object.fromEntries(Object.entries(services[name].depends_on ?? {}).map(([k, v]: [string, any]) => [k, v.condition]));
    expect(dependsOn('temporal-schema')).toEqual({ postgresql: 'service_healthy' });
    expect(dependsOn('temporal')).toEqual({ 'temporal-schema': 'service_completed_successfully' });
    expect(dependsOn('temporal-setup')).toEqual({ temporal: 'service_healthy' });
    expect(dependsOn('temporal-ui')).toEqual({ temporal: 'service_healthy' });
    expect(dependsOn('api')).toEqual({ 'temporal-setup': 'service_completed_successfully' });
    expect(dependsOn('worker')).toEqual({ api: 'service_healthy' });
    expect(services['temporal-schema'].restart).toBe('no');
    expect(services['temporal-setup'].restart).toBe('no');
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'api', 'worker'])
      expect(services[name].restart, name).toBe('unless-stopped');
  });

  it('gives every service another depends on as healthy a healthcheck that tests the right thing', () => {
    expect(services.postgresql.healthcheck.test.join(' ')).toMatch(/pg_isready -U temporal/);
    expect(services.temporal.healthcheck.test).toEqual(['CMD', 'nc', '-z', 'localhost', '7233']);
    const apiPort = serviceEnv('api', SECRETS).PORT;
    expect(services.api.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${apiPort}/readyz`);
    for (const name of ['postgresql', 'temporal', 'api']) {
      const hc = services[name].healthcheck;
      expect(hc.retries * parseInt(hc.interval, 10), `${name}: time allowed to become healthy (s)`).toBeGreaterThanOrEqual(60);
    }
    // The engine processes use init (signals reach node) and get time to drain on stop.
    for (const name of ['api', 'worker']) {
      expect(services[name].init, name).toBe(true);
      expect(parseInt(services[name].stop_grace_period, 10), name).toBeGreaterThanOrEqual(20);
    }
  });

  it('publishes Temporal and its UI on loopback only, and the API on the port it listens on', () => {
    expect(services.temporal.ports).toEqual(['127.0.0.1:7233:7233']);
    expect(services['temporal-ui'].ports).toEqual(['127.0.0.1:8080:8080']);
    const api = serviceEnv('api', SECRETS);
    expect(services.api.ports).toEqual([`${api.PORT}:${api.PORT}`]);
    expect(api.HOST).toBe('0.0.0.0'); // inside its container, or the published port reaches nothing
    for (const name of ['postgresql', 'temporal-schema', 'temporal-setup', 'worker'])
      expect(services[name].ports, name).toBeUndefined();
  });

  it('sets on api and worker only variables src/config.ts reads, and the ones the topology needs', () => {
    const known = variablesConfigReads();
    expect(known.has('TEMPORAL_ADDRESS') && known.has('STORE_OWNER')).toBe(true); // the probe works
    for (const name of ['api', 'worker']) {
      const unknown = Object.keys(services[name].environment).filter((k) => !known.has(k));
      expect(unknown, `${name} sets variables the engine never reads`).toEqual([]);
    }
    const api = loadConfig(serviceEnv('api', SECRETS));
    const worker = loadConfig(serviceEnv('worker', SECRETS));
    expect(api).toMatchObject({
      temporalAddress: 'temporal:7233',
      storeAccess: 'remote', // workflows also run on the worker replicas
      storeOwner: true,
      production: true,
      jwtSecret: SECRETS.JWT_SECRET,
      dataDir: '/data',
    });
    expect(worker).toMatchObject({ temporalAddress: 'temporal:7233', storeOwner: false, production: true, dataDir: '/data' });
    // Same namespace and task queue on both sides, or the workers poll queues nobody feeds.
    expect(worker.namespace).toBe(api.namespace);
    expect(worker.taskQueue).toBe(api.taskQueue);
    expect(services.worker.command).toEqual(['node', '--import', 'tsx', 'src/worker/main.ts']);
    // One volume for both: result files written by a worker are served by the API.
    expect(services.api.volumes).toEqual(['engine-data:/data']);
    expect(services.worker.volumes[0]).toMatch(/^engine-data:\/data\b/);
  });

  it('points every Temporal client at the temporal service on the port its healthcheck probes', () => {
    for (const name of ['api', 'worker', 'temporal-setup', 'temporal-ui']) {
      expect(serviceEnv(name, SECRETS).TEMPORAL_ADDRESS, name).toBe('temporal:7233');
    }
    const temporal = serviceEnv('temporal', SECRETS);
    expect(temporal).toMatchObject({
      DB: 'postgres12',
      POSTGRES_SEEDS: 'postgresql',
      DB_PORT: '5432',
      POSTGRES_USER: 'temporal',
    });
    expect(temporal.POSTGRES_PWD).toBe(SECRETS.POSTGRES_PASSWORD);
    expect(serviceEnv('temporal-schema', SECRETS).SQL_PASSWORD).toBe(SECRETS.POSTGRES_PASSWORD);
  });

  it('pins the Temporal images to the version scripts/install-cluster.mjs builds', () => {
    const script = readFileSync(path.join(PROJECT_ROOT, 'scripts/install-cluster.mjs'), 'utf8');
    const pinned = /TEMPORAL_SERVER_VERSION = '([\d.]+)'/.exec(script)?.[1];
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(services.temporal.image).toBe(`temporalio/server:${pinned}`);
    expect(services['temporal-schema'].image).toBe(`temporalio/admin-tools:${pinned}`);
    expect(services['temporal-setup'].image).toBe(`temporalio/admin-tools:${pinned}`);
    expect(services['temporal-ui'].image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
    expect(services.postgresql.image).toMatch(/^postgres:\d+$/);
  });

  it('interpolates like compose: required secrets fail when missing, defaults apply', () => {
    expect(() => interpolateCompose('${JWT_SECRET:?set JWT_SECRET}', {})).toThrow(/set JWT_SECRET/);
    expect(interpolateCompose('${TEMPORAL_NAMESPACE:-default}', {})).toBe('default');
    expect(interpolateCompose('${TEMPORAL_NAMESPACE:-default}', { TEMPORAL_NAMESPACE: 'prod' })).toBe('prod');
    expect(interpolateCompose('$$db', {})).toBe('$db');
    // The parser sees what compose sees (e.g. quoted "false" stays a string for STORE_OWNER).
    expect(parse('a: "false"').a).toBe('false');
    expect(services.worker.environment.STORE_OWNER).toBe('false');
  });
});
