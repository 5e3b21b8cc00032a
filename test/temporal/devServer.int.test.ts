import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { loadConfig } from '../../src/config.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectOrStartTemporal, startDevServer } from '../../src/temporal/devServer.js';
import { CUSTOM_SEARCH_ATTRIBUTE_KEYS } from '../../src/temporal/searchAttributes.js';
import { getTemporalAddress, getTemporalCliPath } from '../support/temporal.js';

const { IndexedValueType } = proto.temporal.api.enums.v1; // CommonJS module: no named ESM imports
const run = promisify(execFile);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function waitDead(pid: number, ms: number) {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

/** Temporarily sets (or deletes, with undefined) environment variables around `fn`. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

describe('the run-wide dev server (globalSetup)', () => {
  let connection: Connection;
  beforeAll(async () => {
    connection = await Connection.connect({ address: getTemporalAddress() });
  });
  afterAll(() => connection?.close());

  it('has every custom search attribute registered, with its type', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const key of CUSTOM_SEARCH_ATTRIBUTE_KEYS) {
      expect(customAttributes?.[key.name], key.name).toBe(IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`]);
    }
  });

  it('answers the real `temporal` CLI', async () => {
    const { stdout } = await run(
      getTemporalCliPath(),
      ['workflow', 'list', '--address', getTemporalAddress(), '-o', 'json', '--limit', '5'],
      { timeout: 30_000 },
    );
    expect(Array.isArray(JSON.parse(stdout))).toBe(true);
    const health = await run(getTemporalCliPath(), ['operator', 'cluster', 'health', '--address', getTemporalAddress()], {
      timeout: 30_000,
    });
    expect(health.stdout).toMatch(/SERVING/);
  });

  it('accepts Workflow Updates (the API is enabled: a missing workflow is "not found", not "disabled")', async () => {
    const client = new Client({ connection });
    const error = await client.workflow
      .getHandle(`no-such-workflow-${Date.now()}`)
      .executeUpdate('anything')
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(error).toBeDefined();
    expect(`${error?.name}: ${error?.message}`).toMatch(/not ?found/i);
    expect(error?.message).not.toMatch(/disabled/i);
  });
});

describe('startDevServer', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dev-server-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts a persistent server with a UI and its own namespace, and stops it without leftovers', async () => {
    const lines: string[] = [];
    const started = Date.now();
    const server = await startDevServer({
      dbFilename: path.join(dir, 'temporal.db'),
      namespace: 'jobs',
      log: (l) => lines.push(l),
    });
    console.log(`dev server (db file, UI) ready in ${Date.now() - started} ms`);
    try {
      expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(server.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(['env', 'path', 'pip']).toContain(server.source);
      expect(server.pid).toBeGreaterThan(0);
      expect(lines.join('\n')).toMatch(/from (env|path|pip)/);
      const ui = await fetch(server.uiUrl!);
      expect(ui.status).toBe(200);
      const connection = await Connection.connect({ address: server.address });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'jobs' });
        expect(Object.keys(customAttributes ?? {})).toEqual(
          expect.arrayContaining(CUSTOM_SEARCH_ATTRIBUTE_KEYS.map((k) => k.name)),
        );
      } finally {
        await connection.close();
      }
    } finally {
      await server.stop();
    }
    expect(alive(server.pid!)).toBe(false);
    await server.stop(); // idempotent
  });

  it('rejects with the server output when the process exits early (port taken)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(startDevServer({ port, headless: true })).rejects.toThrow(/exited early[\s\S]*address already in use/);
    } finally {
      blocker.close();
    }
  });

  it('says so when a running server dies on its own, and not when it is stopped', async () => {
    const lines: string[] = [];
    const server = await startDevServer({ headless: true, log: (l) => lines.push(l) });
    try {
      process.kill(server.pid!, 'SIGKILL');
      expect(await waitDead(server.pid!, 10_000)).toBe(true);
      await vi.waitFor(
        () => expect(lines.find((l) => l.includes('exited unexpectedly'))).toMatch(/exited unexpectedly \(code null, SIGKILL\)/),
        {
          timeout: 5000,
          interval: 20,
        },
      );
    } finally {
      await server.stop();
    }
    const stopped: string[] = [];
    const other = await startDevServer({ headless: true, log: (l) => stopped.push(l) });
    await other.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(stopped.join('\n')).not.toMatch(/exited unexpectedly/);
  });

  it('rejects clearly when TEMPORAL_CLI_PATH names no program', async () => {
    await withEnv({ TEMPORAL_CLI_PATH: path.join(dir, 'missing-temporal') }, async () => {
      await expect(startDevServer({ headless: true })).rejects.toThrow(/could not start: .*ENOENT/);
    });
  });

  it('leaves no server behind when its parent is killed with SIGKILL', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/devServerChild.ts', import.meta.url));
    const parent = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    const info = await new Promise<{ pid: number; address: string }>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (chunk) => {
        out += chunk;
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line));
      });
      parent.once('exit', (code) => reject(new Error(`fixture exited (${code}) before starting a server: ${out}`)));
    });
    try {
      expect(alive(info.pid)).toBe(true);
      parent.kill('SIGKILL');
      expect(await waitDead(info.pid, 10_000)).toBe(true);
    } finally {
      if (alive(info.pid)) process.kill(info.pid, 'SIGKILL'); // the test failed: do not leave it running
    }
  });
});

describe('connectOrStartTemporal', () => {
  it('starts nothing when TEMPORAL_ADDRESS is set', async () => {
    await withEnv({ TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_UI_URL: 'http://ui.example:8080' }, async () => {
      // As main.ts does: the config reader reads the environment, the launcher gets its values.
      const config = loadConfig();
      const external = config.temporalAddress ? { address: config.temporalAddress, uiUrl: config.temporalUiUrl } : undefined;
      const server = await connectOrStartTemporal({ namespace: 'jobs', external });
      expect(server).toMatchObject({
        address: 'temporal.example:7233',
        uiUrl: 'http://ui.example:8080',
        namespace: 'jobs',
        source: 'external',
      });
      expect(server.pid).toBeUndefined();
      await server.stop();
    });
  });
});
