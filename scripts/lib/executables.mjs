// Finding programs on this machine, shared by the install scripts, src/temporal/cliBinary.ts and the
// cluster test support (plain node: the scripts run before any TypeScript tooling).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const exe = (name) => (process.platform === 'win32' ? `${name}.exe` : name);

/** A file this process may run. */
export function isExecutable(file) {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of `name` on PATH, or undefined. */
export function findOnPath(name, env = process.env) {
  for (const dir of (env.PATH ?? env.Path ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, exe(name)))) return path.resolve(dir, exe(name));
  }
  return undefined;
}

/** The folder of initdb/pg_ctl/postgres: PG_BIN, PATH, `pg_config --bindir`, /usr/lib/postgresql/<newest>/bin. */
export function findPostgresBin(env = process.env) {
  const has = (dir) => !!dir && ['initdb', 'pg_ctl', 'postgres'].every((b) => isExecutable(path.join(dir, b)));
  if (env.PG_BIN) return has(env.PG_BIN) ? env.PG_BIN : undefined;
  const onPath = findOnPath('initdb', env);
  if (onPath && has(path.dirname(onPath))) return path.dirname(onPath);
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (pgConfig.status === 0 && has(pgConfig.stdout.trim())) return pgConfig.stdout.trim();
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian) ? readdirSync(debian).filter((v) => /^\d+$/.test(v)) : [];
  for (const v of versions.sort((a, b) => Number(b) - Number(a)))
    if (has(path.join(debian, v, 'bin'))) return path.join(debian, v, 'bin');
  return undefined;
}
