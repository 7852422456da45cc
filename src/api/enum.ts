// A string enum as plain JSON Schema ({type: string, enum: [...]}) rather than TypeBox's anyOf of
// literals: request validation then refuses a wrong value with one clear "allowed values" error.
import { Type, type TUnsafe } from '@sinclair/typebox';

export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}
