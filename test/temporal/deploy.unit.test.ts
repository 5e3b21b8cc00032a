// The production stack's files agree with the code: same search attributes, same dynamic config.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/temporal/cliBinary.js';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../src/temporal/devServer.js';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../src/temporal/searchAttributes.js';

const read = (rel: string) => readFileSync(path.join(PROJECT_ROOT, rel), 'utf8');

describe('docker-compose.yml', () => {
  const compose = read('docker-compose.yml');

  it('registers exactly the custom search attributes of searchAttributes.ts', () => {
    const line = compose.split('\n').find((l) => /for sa in .*=Keyword/.test(l));
    expect(line, 'the `for sa in …` line of temporal-setup').toBeDefined();
    const pairs = line!
      .replace(/^.*for sa in /, '')
      .replace(/; do.*$/, '')
      .trim()
      .split(/\s+/);
    expect(pairs).toEqual(CUSTOM_SEARCH_ATTRIBUTES.map((a) => `${a.name}=${a.type}`));
  });

  it('requires its secrets instead of defaulting them', () => {
    expect(compose).toContain('${POSTGRES_PASSWORD:?');
    expect(compose).toContain('${JWT_SECRET:?');
    expect(compose).not.toMatch(/PASSWORD: [^$\s]/);
  });

  it('points Temporal at the dynamic config file that exists', () => {
    const file = /DYNAMIC_CONFIG_FILE_PATH: \/etc\/temporal\/config\/dynamicconfig\/(\S+)/.exec(compose)?.[1];
    expect(file).toBe('production.yaml');
    expect(compose).toContain('./deploy/temporal/dynamicconfig:/etc/temporal/config/dynamicconfig');
  });
});

describe('deploy/temporal/dynamicconfig/production.yaml', () => {
  const yaml = read('deploy/temporal/dynamicconfig/production.yaml');
  it('sets what the dev server sets', () => {
    for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) {
      expect(yaml).toMatch(new RegExp(`^${key.replace(/\./g, '\\.')}:\\n  - value: ${value}$`, 'm'));
    }
  });
});
