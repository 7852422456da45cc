// A service's spec as the API answers it and the state stores it: normalized (every default filled
// in, every unit a number). The form a person writes is src/spec/schema.ts's SpecInputSchema.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NullableInteger } from './kinds.js';

/** How the scheduler chooses among the nodes that fit (src/scheduler). */
export const PLACEMENT_STRATEGIES = ['spread', 'binpack', 'epvm', 'round-robin'] as const;
// Literals (not StringEnum): the spec normalizer checks input with TypeBox's Value, which knows these.
export const Placement = Type.Union(PLACEMENT_STRATEGIES.map((s) => Type.Literal(s)));
export type Placement = (typeof PLACEMENT_STRATEGIES)[number];

/** A placement constraint, parsed: node.name, node.id or node.labels.KEY, compared with == or !=. */
export const Constraint = Type.Object({
  field: Type.Union([Type.Literal('name'), Type.Literal('id'), Type.Literal('label')]),
  label: Type.Optional(Type.String()),
  op: Type.Union([Type.Literal('=='), Type.Literal('!=')]),
  value: Type.String(),
});
export type Constraint = Static<typeof Constraint>;

/** The one written form of a constraint (`node.labels.zone == a`), which parseConstraint reads back. */
export function formatConstraint(c: Constraint): string {
  return `node.${c.field === 'label' ? `labels.${c.label}` : c.field} ${c.op} ${c.value}`;
}

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ServiceSpec = Type.Object({
  name: Type.String(),
  image: Type.String(),
  command: Type.Array(Type.String()),
  replicas: Type.Integer(),
  /**
   * cpu in cpus; memory and disk in bytes. 0 means "not reserved". pids: the most processes and
   * threads the container may run at once (a limit, not a reservation; never unlimited).
   */
  resources: Type.Object({ cpu: Type.Number(), memory: Type.Number(), disk: Type.Number(), pids: Type.Integer() }),
  env: Type.Record(Type.String(), Type.String()),
  network: Type.Union([Type.Literal('host'), Type.Literal('bridge'), Type.Literal('none')]),
  ports: Type.Array(Type.Object({ container: Type.Integer(), host: NullableInteger, protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp')]) })),
  restart: Type.Object({
    policy: Type.Union([Type.Literal('never'), Type.Literal('on-failure'), Type.Literal('always')]),
    maxAttempts: Type.Integer(),
    delayMs: Type.Number(),
  }),
  privileged: Type.Boolean(),
  capAdd: Type.Array(Type.String()),
  /** Host paths bound into the container. */
  mounts: Type.Array(Type.Object({ source: Type.String(), target: Type.String(), readOnly: Type.Boolean() })),
  healthCheck: Nullable(
    Type.Object({
      http: Nullable(Type.Object({ port: Type.Integer(), path: Type.String() })),
      tcp: Nullable(Type.Object({ port: Type.Integer() })),
      exec: Nullable(Type.Object({ command: Type.Array(Type.String()) })),
      intervalMs: Type.Number(),
      timeoutMs: Type.Number(),
      retries: Type.Integer(),
      startPeriodMs: Type.Number(),
    }),
  ),
  constraints: Type.Array(Constraint),
  placement: Nullable(Placement),
  update: Type.Object({
    parallelism: Type.Integer(),
    monitorMs: Type.Number(),
    failureAction: Type.Union([Type.Literal('pause'), Type.Literal('rollback')]),
  }),
});
export type ServiceSpec = Static<typeof ServiceSpec>;
