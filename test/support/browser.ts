import { chromium, type Browser } from 'playwright-core';
import { findOnPath, isExecutable } from '../../scripts/lib/executables.mjs';

/** Chromium for the dashboard's browser tests, found as scripts/install-chromium.mjs finds (and
 * installs) it: CHROMIUM_PATH, then the usual names on PATH. */
export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv && isExecutable(fromEnv)) return fromEnv;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const found = findOnPath(name);
    if (found) return found;
  }
  throw new Error('No Chromium: run `node scripts/install-chromium.mjs` (npm test does) or set CHROMIUM_PATH.');
}

/**
 * A headless Chromium driven by playwright-core (which downloads no browser). Playwright gives each
 * launch a fresh profile folder (--user-data-dir) and removes it on close; the flags keep Chromium off
 * the network (no component updates, sync, or background requests) and out of the GPU.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
