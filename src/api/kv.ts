// /v1/kv: the replicated key/value store's wire shapes. Keys may contain slashes
// (config/app/port); values are strings; a version is the log index of the key's last write.
import { Type, type Static } from '@sinclair/typebox';

export const KV_KEY_PATTERN = '^[A-Za-z0-9._/-]{1,256}$';

/** The key, everything after /v1/kv/. */
export const KvKeyParams = Type.Object({ '*': Type.String({ pattern: KV_KEY_PATTERN }) });
export type KvKeyParams = Static<typeof KvKeyParams>;

/** ?cas=VERSION makes a write conditional on the key's version (0: only if absent). */
export const KvCasQuery = Type.Object({ cas: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false });
export type KvCasQuery = Static<typeof KvCasQuery>;

/** ?stale=true answers from this manager's state without asking the leader first. */
export const StaleQuery = Type.Object({ stale: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export type StaleQuery = Static<typeof StaleQuery>;

export const KvListQuery = Type.Object({ prefix: Type.Optional(Type.String({ maxLength: 256 })), stale: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export type KvListQuery = Static<typeof KvListQuery>;

export const KvPutBody = Type.Object({ value: Type.String({ maxLength: 1 << 20 }) }, { additionalProperties: false });
export type KvPutBody = Static<typeof KvPutBody>;

export const KvItem = Type.Object({ key: Type.String(), value: Type.String(), version: Type.Integer() });
export type KvItem = Static<typeof KvItem>;

export const KvDeleted = Type.Object({ key: Type.String(), deleted: Type.Literal(true), version: Type.Integer() });
export type KvDeleted = Static<typeof KvDeleted>;
