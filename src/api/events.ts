// GET /v1/events: the query of the cluster's event stream, and the events it sends (as server-sent
// events, each frame's data one StoredEvent; no JSON answer for fastify to check).
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

const ServiceAction = Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('stopped'), Type.Literal('started'), Type.Literal('update-paused'), Type.Literal('update-completed'), Type.Literal('rolling-back'), Type.Literal('rolled-back')]);
const NodeAction = Type.Union([Type.Literal('registered'), Type.Literal('ready'), Type.Literal('down'), Type.Literal('active'), Type.Literal('pause'), Type.Literal('drain'), Type.Literal('removed')]);

/** What a committed command did to a task, a service or a node, or a new leader. */
export const ClusterEvent = Type.Union([
  Type.Object({ type: Type.Literal('task'), id: Type.String(), service: Type.String(), slot: Type.Integer(), node: Type.Union([Type.String(), Type.Null()]), from: Type.Union([Type.String(), Type.Null()]), to: Type.String(), error: Type.Union([Type.String(), Type.Null()]) }),
  Type.Object({ type: Type.Literal('service'), action: ServiceAction, id: Type.String(), name: Type.String(), version: Type.Integer() }),
  Type.Object({ type: Type.Literal('node'), action: NodeAction, id: Type.String(), name: Type.String() }),
  Type.Object({ type: Type.Literal('leader'), id: Type.Integer(), term: Type.Integer(), address: Type.Union([Type.String(), Type.Null()]) }),
]);
export type ClusterEvent = Static<typeof ClusterEvent>;

/** An event as the stream sends it (each frame's data): where it is in the log (index, k-th of that entry) and when. */
export const StoredEvent = Type.Intersect([ClusterEvent, Type.Object({ index: Type.Integer(), k: Type.Integer(), ts: Type.Number() })]);
export type StoredEvent = Static<typeof StoredEvent>;
