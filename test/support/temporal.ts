// What test/setup/temporal.globalSetup.ts provides to the test files.
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `host:port` of the run's Temporal frontend (a fresh dev server, or TEMPORAL_ADDRESS). */
    temporalAddress: string;
    /** The `temporal` CLI tests may spawn (`temporal workflow list --address …`). */
    temporalCliPath: string;
  }
}

/** `host:port` of the Temporal server shared by this test run. */
export function getTemporalAddress(): string {
  return inject('temporalAddress');
}

/** The real `temporal` CLI binary (resolved like scripts/install-temporal.mjs). */
export function getTemporalCliPath(): string {
  return inject('temporalCliPath');
}
