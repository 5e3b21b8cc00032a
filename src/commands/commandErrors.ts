/** The errors commands throw: domain errors whose kind the API's one onError maps to a status. */
import { DomainError } from '../domain/index.js';

export const badRequest = (message: string) => new DomainError('invalid', message);
export const conflict = (message: string) => new DomainError('conflict', message);
export const forbidden = (message: string) => new DomainError('forbidden', message);
export const tooLarge = (message: string) => new DomainError('too_large', message);

/** The same Idempotency-Key with another request body. */
export class IdempotencyConflictError extends DomainError {
  constructor() {
    super('conflict', 'Idempotency-Key was already used with a different request body');
  }
}
