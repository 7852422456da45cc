// GET /v1/events: the query of the cluster's event stream (server-sent events, so no JSON answer).
import { Type, type Static } from '@sinclair/typebox';

export const EventsQuery = Type.Object(
  {
    /** Resume after this event: a log index, or an event id like 120-0. */
    since: Type.Optional(Type.String({ maxLength: 24 })),
    /** Keep the stream open for new events as they commit. */
    follow: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;
