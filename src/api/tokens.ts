// Tokens' and certificates' wire shapes: the join tokens (shown and rotated by admins), joining
// with one (POST /v1/join), the CA (GET /v1/ca), certificate renewal, the named API tokens, and the
// cluster's secrets as a manager receives them when it joins.
import { Type, type Static } from '@sinclair/typebox';

export const JoinRole = Type.Union([Type.Literal('worker'), Type.Literal('manager')]);
export type JoinRole = Static<typeof JoinRole>;

export const JoinTokenParams = Type.Object({ role: JoinRole }, { additionalProperties: false });
export type JoinTokenParams = Static<typeof JoinTokenParams>;

/** GET /v1/tokens/:role and its rotation: the join token for that role. */
export const JoinToken = Type.Object({ role: JoinRole, token: Type.String() });
export type JoinToken = Static<typeof JoinToken>;

/** GET /v1/ca: the CA certificate, which a joiner pins by its token's digest. */
export const CaAnswer = Type.Object({ ca: Type.String(), clusterId: Type.String() });
export type CaAnswer = Static<typeof CaAnswer>;

/** A PEM certificate signing request. */
const Csr = Type.String({ minLength: 100, maxLength: 4096 });

export const JoinBody = Type.Object(
  {
    token: Type.String({ maxLength: 200 }),
    role: JoinRole,
    csr: Csr,
    /** A worker's 12-hex-digit node id, or a manager's address (host:port). */
    name: Type.String({ minLength: 1, maxLength: 253 }),
  },
  { additionalProperties: false },
);
export type JoinBody = Static<typeof JoinBody>;

export const ApiRole = Type.Union([Type.Literal('admin'), Type.Literal('readonly')]);
export type ApiRole = Static<typeof ApiRole>;

/** A named API token as the replicated state keeps it: the SHA-256 of its secret, never the secret. */
export const ApiTokenRecord = Type.Object({
  name: Type.String(),
  role: ApiRole,
  /** SHA-256 (hex) of the token's secret. */
  hash: Type.String(),
  createdAt: Type.Number(),
  /** When the secret was last replaced (absent: never). */
  rotatedAt: Type.Optional(Type.Number()),
});
export type ApiTokenRecord = Static<typeof ApiTokenRecord>;

/** The cluster's secrets, which every manager holds: its CA, the join tokens' secrets, the API tokens' hashes. */
export const ClusterSecrets = Type.Object({
  clusterId: Type.String(),
  ca: Type.Object({ certPem: Type.String(), keyPem: Type.String() }),
  /** The secret halves of the join tokens, by the role they grant. */
  join: Type.Object({ worker: Type.String(), manager: Type.String() }),
  /** The API tokens, by name; their secrets are printed once, never kept. */
  api: Type.Array(ApiTokenRecord),
});
export type ClusterSecrets = Static<typeof ClusterSecrets>;

/** POST /v1/join answers: the joiner's signed certificate, the CA, and for a manager the cluster's secrets. */
export const JoinAnswer = Type.Object({
  certPem: Type.String(),
  caPem: Type.String(),
  clusterId: Type.String(),
  secrets: Type.Optional(ClusterSecrets),
});
export type JoinAnswer = Static<typeof JoinAnswer>;

export const RenewBody = Type.Object({ csr: Csr }, { additionalProperties: false });
export type RenewBody = Static<typeof RenewBody>;

export const RenewAnswer = Type.Object({ certPem: Type.String() });
export type RenewAnswer = Static<typeof RenewAnswer>;

/** Token names: lower-case letters, digits and dashes, as in a command line, up to 64. */
export const TOKEN_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const TokenName = Type.String({ pattern: TOKEN_NAME.source, maxLength: 64 });

export const ApiTokenParams = Type.Object({ name: TokenName }, { additionalProperties: false });
export type ApiTokenParams = Static<typeof ApiTokenParams>;

/** POST /v1/tokens/api: a new token's name and role (readonly unless told). */
export const CreateApiTokenBody = Type.Object({ name: TokenName, role: Type.Optional(ApiRole) }, { additionalProperties: false });
export type CreateApiTokenBody = Static<typeof CreateApiTokenBody>;

/** A named API token, as listed: never its secret or its hash. */
export const ApiTokenInfo = Type.Object({
  name: Type.String(),
  role: ApiRole,
  /** ISO 8601. */
  createdAt: Type.String(),
  rotatedAt: Type.Optional(Type.String()),
});
export type ApiTokenInfo = Static<typeof ApiTokenInfo>;

/** A named API token just made or rotated, with its secret (shown this once). */
export const ApiTokenSecret = Type.Object({ name: Type.String(), role: ApiRole, token: Type.String() });
export type ApiTokenSecret = Static<typeof ApiTokenSecret>;

export const ApiTokenRevoked = Type.Object({ name: Type.String(), revoked: Type.Literal(true) });
export type ApiTokenRevoked = Static<typeof ApiTokenRevoked>;
