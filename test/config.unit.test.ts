import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigOrExit } from '../src/config.js';
import { engineOptionsFromConfig } from '../src/engine.js';

describe('loadConfig: the one reader of the environment', () => {
  it('has a documented default for everything', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      temporalAddress: undefined,
      namespace: 'default',
      taskQueue: 'job-engine',
      dataDir: path.resolve('data'),
      port: 3000,
      host: '127.0.0.1',
      defaultJobType: 'sleep',
      maxConcurrentSteps: 100,
      workflowThreads: 1,
      workflowStackTraces: false,
      eventStoreAppendThread: false,
      reconcileIntervalMs: 1000,
      controlWaitMs: 10_000,
      storeAccess: 'local',
      temporalPort: 7233,
      temporalUiPort: undefined,
      logLevel: 'WARN',
      storeOwner: true,
      workflowBundlePath: undefined,
      shutdownTimeoutMs: 20_000,
      production: false,
    });
    expect(c.eventStorePath).toBe(path.resolve('data', 'events.db'));
    expect(c.batchItemsPath).toBe(path.resolve('data', 'batch-items.db'));
  });

  it('reads every variable, and files follow DATA_DIR unless named', () => {
    const c = loadConfig({
      DATA_DIR: '/srv/jobs',
      READMODEL_PATH: '/fast/rm.db',
      TEMPORAL_PORT: '7300',
      TEMPORAL_UI_PORT: '8300',
      TEMPORAL_UI_URL: 'http://ui.example',
      LOG_LEVEL: 'DEBUG',
      STORE_OWNER: 'false',
      EVENTSTORE_ACCESS: 'remote',
      WORKFLOW_BUNDLE: '/b/bundle.js',
      SHUTDOWN_TIMEOUT_MS: '5000',
      WORKFLOW_THREADS: '2',
      REBUILD_THREADS: '1',
      EVENTSTORE_APPEND_THREAD: '1',
      WORKFLOW_STACK_TRACES: '1',
    });
    expect(c).toMatchObject({
      temporalPort: 7300,
      temporalUiPort: 8300,
      temporalUiUrl: 'http://ui.example',
      logLevel: 'DEBUG',
      storeOwner: false,
      storeAccess: 'remote',
    });
    expect(c.eventStorePath).toBe(path.resolve('/srv/jobs', 'events.db'));
    expect(c.readModelPath).toBe('/fast/rm.db');
    expect(engineOptionsFromConfig(c)).toMatchObject({
      workflowBundle: { codePath: '/b/bundle.js' },
      storeAccess: 'remote',
      logLevel: 'DEBUG',
      workflowThreads: 2,
      rebuildThreads: 1,
      eventStoreAppendThread: true,
      workflowStackTraces: true,
    });
    expect(loadConfig({ EVENTSTORE_APPEND_THREAD: 'false' }).eventStoreAppendThread).toBe(false);
    expect(() => loadConfig({ EVENTSTORE_APPEND_THREAD: 'yes' })).toThrow(/^EVENTSTORE_APPEND_THREAD: expected 1 or 0/);
    expect(() => loadConfig({ WORKFLOW_STACK_TRACES: 'on' })).toThrow(/^WORKFLOW_STACK_TRACES: expected 1 or 0/);
    expect(loadConfig({}).rebuildThreads).toBeUndefined(); // one per core
    expect(engineOptionsFromConfig(loadConfig({ CONTROL_WAIT_MS: '2500' })).controlWaitMs).toBe(2500);
    expect(() => loadConfig({ CONTROL_WAIT_MS: '0' })).toThrow(/^CONTROL_WAIT_MS: expected a positive integer/);
  });

  it('retention: off by default; an age as a duration or in days, and how often', () => {
    expect(loadConfig({}).retention).toBeUndefined();
    expect(loadConfig({ RETENTION_MAX_AGE: '36h' }).retention).toEqual({ maxAgeMs: 36 * 3_600_000, intervalMs: 3_600_000 });
    const days = loadConfig({ RETENTION_DAYS: '30', RETENTION_INTERVAL: '15m' });
    expect(days.retention).toEqual({ maxAgeMs: 30 * 86_400_000, intervalMs: 900_000 });
    expect(engineOptionsFromConfig(days).retention).toEqual(days.retention);
    expect(() => loadConfig({ RETENTION_MAX_AGE: '30 days' })).toThrow(/RETENTION_MAX_AGE must be a duration/);
    expect(() => loadConfig({ RETENTION_MAX_AGE: '1d', RETENTION_DAYS: '1' })).toThrow(/not both/);
    expect(() => loadConfig({ RETENTION_DAYS: '1', RETENTION_INTERVAL: 'hourly' })).toThrow(/RETENTION_INTERVAL/);
  });

  it('refuses a number that is not one', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/^PORT: expected a non-negative integer/);
    expect(() => loadConfig({ WEBHOOK_TIMEOUT_MS: '-5' })).toThrow(/^WEBHOOK_TIMEOUT_MS: /);
    expect(() => loadConfig({ WORKFLOW_THREADS: '0' })).toThrow(/WORKFLOW_THREADS must be at least 1/);
    expect(() => loadConfig({ REBUILD_THREADS: '0' })).toThrow(/REBUILD_THREADS must be at least 1/);
  });

  it('stops a program with one line naming the variable, exit code 2', () => {
    const lines: string[] = [];
    const stop = {
      error: (line: string) => void lines.push(line),
      exit: (code: number): never => {
        throw new Error(`exit ${code}`);
      },
    };
    expect(() => loadConfigOrExit({ PORT: 'eighty' }, stop)).toThrow('exit 2');
    expect(lines).toEqual(['Configuration: PORT: expected a non-negative integer, got "eighty"']);
    expect(loadConfigOrExit({ PORT: '8080' }, stop).port).toBe(8080);
  });
});
