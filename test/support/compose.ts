// docker-compose.yml as data, for the topology unit test and for the local cluster, which runs the
// compose file's own setup scripts and environment instead of a copy of them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/temporal/cliBinary.js';

export interface ComposeFile {
  services: Record<string, any>;
  volumes?: Record<string, unknown>;
}

export function readCompose(file = path.join(PROJECT_ROOT, 'docker-compose.yml')): ComposeFile {
  return parse(readFileSync(file, 'utf8')) as ComposeFile;
}

/**
 * Compose's variable interpolation: `$$` is a literal `$`; `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?error}`, `${VAR?error}` and `$VAR` read `env`. A required variable that is
 * missing throws, as `docker compose` refuses to start.
 */
export function interpolateCompose(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name: string | undefined, colon: string, op: string, arg: string, bare: string | undefined) => {
      if (match === '$$') return '$';
      if (bare) return env[bare] ?? '';
      const value = env[name!];
      const unset = colon ? !value : value === undefined;
      if (op === '-') return unset ? arg : value!;
      if (op === '?') {
        if (unset) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return value!;
      }
      return value ?? '';
    },
  );
}

/** The environment a service's containers get, interpolated with `env` (secrets etc.). */
export function serviceEnv(
  name: string,
  env: Record<string, string | undefined>,
  compose: ComposeFile = readCompose(),
): Record<string, string> {
  const service = compose.services[name];
  if (!service) throw new Error(`no service ${name} in docker-compose.yml`);
  const raw = service.environment ?? {};
  const entries: [string, string][] = Array.isArray(raw)
    ? raw.map((line: string) => {
        const at = line.indexOf('=');
        return [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(raw).map(([k, v]) => [k, String(v)]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolateCompose(v, env)]));
}

/** The shell script a one-shot service runs (`entrypoint: [/bin/sh, -euc]`, `command: [script]`), with `$$` → `$`. */
export function serviceScript(name: string, compose: ComposeFile = readCompose()): string {
  const service = compose.services[name];
  const entrypoint: string[] = service?.entrypoint ?? [];
  if (entrypoint[0] !== '/bin/sh' || !Array.isArray(service.command) || service.command.length !== 1)
    throw new Error(`service ${name} does not run a one-line /bin/sh script`);
  return interpolateCompose(service.command[0], {});
}
