import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import { jwtAuthenticator, mintToken } from '../../src/api/auth.js';
import { ApiError } from '../../src/api/errors.js';

const secret = 'test-secret';
const request = (token: string) => new Request('http://x/api/v1/jobs/list', { headers: { authorization: `Bearer ${token}` } });
const now = () => Math.floor(Date.now() / 1000);
const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
};

describe('jwtAuthenticator', () => {
  const authenticate = jwtAuthenticator({ secret, maxTtlSeconds: 3600 });

  it('accepts a token that expires within the allowed lifetime', async () => {
    expect(await authenticate(request(await mintToken(secret, 'alice', { expiresInSeconds: 3600 })))).toEqual({
      id: 'alice',
      role: 'user',
    });
  });

  it('refuses a token without exp: it would be valid forever', async () => {
    const forever = await sign({ sub: 'alice', iat: now() }, secret, 'HS256');
    const error = await refusal(authenticate(request(forever)));
    expect([error.status, error.details]).toEqual([401, 'Invalid token: no exp claim (tokens must expire)']);
  });

  it('refuses a lifetime above the cap, also when iat is left out or put in the future', async () => {
    const long = await mintToken(secret, 'alice', { expiresInSeconds: 7200 });
    expect((await refusal(authenticate(request(long)))).details).toMatch(
      /lives 7200 s, longer than the allowed 3600 s \(JWT_MAX_TTL_SECONDS\)/,
    );
    const noIat = await sign({ sub: 'alice', exp: now() + 7200 }, secret, 'HS256');
    expect((await refusal(authenticate(request(noIat)))).status).toBe(401);
    const futureIat = await sign({ sub: 'alice', iat: now() + 86_400, exp: now() + 86_400 + 600 }, secret, 'HS256');
    expect((await refusal(authenticate(request(futureIat)))).status).toBe(401);
  });

  it('defaults to a 7-day cap', async () => {
    const auth = jwtAuthenticator({ secret });
    expect(await auth(request(await mintToken(secret, 'bob', { expiresInSeconds: 6 * 86_400 })))).toMatchObject({ id: 'bob' });
    expect((await refusal(auth(request(await mintToken(secret, 'bob', { expiresInSeconds: 8 * 86_400 }))))).status).toBe(401);
  });
});
