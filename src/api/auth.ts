import { sign, verify } from 'hono/jwt';
import type { ApiUser } from './context.js';
import { ApiError } from './errors.js';

export interface JwtAuthOptions {
  /** HS256 secret shared with whoever mints tokens. */
  secret: string;
  /** The longest lifetime a token may have (exp − iat, or exp − now), seconds; default 7 days. A token
   * without `exp` is refused: a leaked token must stop working by itself. */
  maxTtlSeconds?: number;
}

export const DEFAULT_JWT_MAX_TTL_SECONDS = 7 * 24 * 3600;

/** `Authorization: Bearer <JWT>` (HS256). `sub` is the user id; `role: "admin"` sees every job.
 * Missing, expired or tampered tokens are 401. */
export function jwtAuthenticator(options: JwtAuthOptions) {
  return async (request: Request): Promise<ApiUser> => {
    const header = request.headers.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, 'Missing bearer token (Authorization: Bearer <JWT>)');
    let payload: Record<string, unknown>;
    try {
      payload = (await verify(match[1]!, options.secret, 'HS256')) as Record<string, unknown>;
    } catch (error) {
      const name = (error as Error).name;
      throw new ApiError(401, name === 'JwtTokenExpired' ? 'Token expired' : 'Invalid token');
    }
    if (typeof payload.sub !== 'string' || !payload.sub) throw new ApiError(401, 'Invalid token: no sub claim');
    if (typeof payload.exp !== 'number') throw new ApiError(401, 'Invalid token: no exp claim (tokens must expire)');
    const maxTtl = options.maxTtlSeconds ?? DEFAULT_JWT_MAX_TTL_SECONDS;
    const now = Math.floor(Date.now() / 1000);
    const issuedAt = typeof payload.iat === 'number' ? Math.min(payload.iat, now) : now;
    if (payload.exp - issuedAt > maxTtl)
      throw new ApiError(
        401,
        `Invalid token: it lives ${payload.exp - issuedAt} s, longer than the allowed ${maxTtl} s (JWT_MAX_TTL_SECONDS)`,
      );
    return { id: payload.sub, role: payload.role === 'admin' ? 'admin' : 'user' };
  };
}

/** Mints a token (the `npm run token` script and tests). */
export function mintToken(
  secret: string,
  user: string,
  options: { role?: 'admin' | 'user'; expiresInSeconds?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign(
    { sub: user, role: options.role ?? 'user', iat: now, exp: now + (options.expiresInSeconds ?? 24 * 3600) },
    secret,
    'HS256',
  );
}
