// Schema kinds the contract's files share, written as plain JSON Schema where that serves better
// than TypeBox's default form.
import { Type, type TUnsafe } from '@sinclair/typebox';

/**
 * A string enum as {type: string, enum: [...]} rather than TypeBox's anyOf of literals: request
 * validation then refuses a wrong value with one "allowed values" error.
 */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

// A nullable scalar as {type: [X, null]}: the response serializer writes it directly, where an
// anyOf would be matched by a validator for every field of every task in a list.
export const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] });
export const NullableInteger = Type.Unsafe<number | null>({ type: ['integer', 'null'] });
