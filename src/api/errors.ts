// The one shape of every error the API answers, for the server that sends it and the clients that
// read it: {"error": {"code", "message", "details"}}.
import { Type, type Static } from '@sinclair/typebox';

export const ErrorBody = Type.Object({
  error: Type.Object({
    /** Stable, kebab-case: what a program branches on (`no-leader`, `bad-spec`, `read-only-token`). */
    code: Type.String(),
    /** One sentence for a person, naming what was wrong. */
    message: Type.String(),
    details: Type.Unknown(),
  }),
});
export type ErrorBody = Static<typeof ErrorBody>;
