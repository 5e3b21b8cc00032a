/** `npm run token -- --user alice [--admin] [--hours 24]`: prints a JWT for local use (HS256, JWT_SECRET). */
import { parseArgs } from 'node:util';
import { mintToken } from '../src/api/auth.js';

const { values } = parseArgs({
  options: { user: { type: 'string' }, admin: { type: 'boolean', default: false }, hours: { type: 'string', default: '24' } },
});
const secret = process.env.JWT_SECRET;
if (!secret) {
  console.error('Set JWT_SECRET (the same value the API runs with).');
  process.exit(2);
}
if (!values.user) {
  console.error('usage: npm run token -- --user <id> [--admin] [--hours N]');
  process.exit(2);
}
console.log(
  await mintToken(secret, values.user, { role: values.admin ? 'admin' : 'user', expiresInSeconds: Number(values.hours) * 3600 }),
);
