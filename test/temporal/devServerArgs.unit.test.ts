import { describe, expect, it } from 'vitest';
import { DEV_SERVER_DYNAMIC_CONFIG, devServerArgs, freePort } from '../../src/temporal/devServer.js';
import {
  CUSTOM_SEARCH_ATTRIBUTES,
  CUSTOM_SEARCH_ATTRIBUTE_KEYS,
  JobNameKey,
  JobPriorityKey,
  JobStatusKey,
} from '../../src/temporal/searchAttributes.js';

/** Values following each occurrence of `flag`. */
const valuesOf = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

describe('search attributes', () => {
  it('are the seven of the project, with CLI type names', () => {
    expect(CUSTOM_SEARCH_ATTRIBUTES.map(({ name, type }) => `${name}=${type}`)).toEqual([
      'JobStatus=Keyword',
      'JobPriority=Int',
      'JobType=Keyword',
      'BatchId=Keyword',
      'Owner=Keyword',
      'JobName=Text',
      'BatchStatus=Keyword',
    ]);
    expect(CUSTOM_SEARCH_ATTRIBUTE_KEYS).toHaveLength(7);
    expect(JobStatusKey).toEqual({ name: 'JobStatus', type: 'KEYWORD' });
    expect(JobPriorityKey).toEqual({ name: 'JobPriority', type: 'INT' });
    expect(JobNameKey).toEqual({ name: 'JobName', type: 'TEXT' });
  });
});

describe('devServerArgs', () => {
  it('registers every search attribute and the dynamic config, in memory and headless', () => {
    const args = devServerArgs({ ip: '127.0.0.1', port: 7000, headless: true, namespace: 'default' });
    expect(args.slice(0, 2)).toEqual(['server', 'start-dev']);
    expect(valuesOf(args, '--ip')).toEqual(['127.0.0.1']);
    expect(valuesOf(args, '--port')).toEqual(['7000']);
    expect(valuesOf(args, '--namespace')).toEqual(['default']);
    expect(valuesOf(args, '--log-level')).toEqual(['warn']);
    expect(args).toContain('--headless');
    expect(args).not.toContain('--ui-port');
    expect(args).not.toContain('--db-filename');
    expect(valuesOf(args, '--search-attribute')).toEqual(CUSTOM_SEARCH_ATTRIBUTES.map((a) => `${a.name}=${a.type}`));
    expect(valuesOf(args, '--dynamic-config-value')).toEqual([
      'matching.useNewMatcher=true',
      'frontend.enableUpdateWorkflowExecution=true',
      'system.enableActivityEagerExecution=true',
      'history.transferProcessorMaxPollRPS=100',
      'history.timerProcessorMaxPollRPS=100',
      'history.visibilityProcessorMaxPollRPS=100',
    ]);
    expect(DEV_SERVER_DYNAMIC_CONFIG['matching.useNewMatcher']).toBe('true');
  });

  it('persists to a file and serves the UI when asked', () => {
    const args = devServerArgs({ ip: '0.0.0.0', port: 7000, uiPort: 8000, namespace: 'jobs', dbFilename: 'data/temporal.db' });
    expect(valuesOf(args, '--ui-port')).toEqual(['8000']);
    expect(args).not.toContain('--headless');
    expect(valuesOf(args, '--db-filename')).toEqual(['data/temporal.db']);
    expect(valuesOf(args, '--namespace')).toEqual(['jobs']);
  });
});

describe('freePort', () => {
  it('returns usable ports', async () => {
    const [a, b] = await Promise.all([freePort(), freePort()]);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });
});
