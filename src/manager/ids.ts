import { randomBytes } from 'node:crypto';

/** A short random id (12 hex characters), like Docker's short ids. */
export function newId(): string {
  return randomBytes(6).toString('hex');
}
