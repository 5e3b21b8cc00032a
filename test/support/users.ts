import { jwtAuthenticator, mintToken } from '../../src/api/auth.js';
import type { AppOptions } from '../../src/api/app.js';

export type AuthHeaders = Record<string, string>;

/** App options that turn JWT authentication on with `secret`. */
export const jwtAppOptions = (secret: string): AppOptions => ({ authenticate: jwtAuthenticator({ secret }) });

/** Authorization headers of the test users: alice and bob (users) and root (an admin). */
export async function testUsers(secret: string): Promise<{ alice: AuthHeaders; bob: AuthHeaders; admin: AuthHeaders }> {
  const bearer = async (user: string, admin = false) => ({
    authorization: `Bearer ${await mintToken(secret, user, admin ? { role: 'admin' } : {})}`,
  });
  return { alice: await bearer('alice'), bob: await bearer('bob'), admin: await bearer('root', true) };
}
