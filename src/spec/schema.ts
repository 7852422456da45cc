// The service spec as a person writes it (JSON or YAML), as a TypeBox type, which is JSON Schema.
// Sizes, durations and cpus may be written with units; normalize.ts turns them into numbers.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Placement } from '../api/spec.js';

const Size = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ maxLength: 32 })], { description: 'a size like 64MiB, 1.5GiB or a number of bytes', unit: 'bytes' });
const Duration = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ maxLength: 32 })], { description: 'a duration like 500ms, 5s or 1m', unit: 'duration' });
const Cpu = Type.Union([Type.Number({ minimum: 0 }), Type.String({ maxLength: 16 })], { description: 'a number of cpus like 0.5', unit: 'cpu' });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
// At least 2: the container's init (docker-init) and its command. At most the kernel's largest pid_max.
const Pids = Type.Integer({ minimum: 2, maximum: 4_194_304, description: 'an integer from 2 (the container\'s init and its command) to 4194304' });

/** The most processes and threads a container may run at once when its spec says nothing: a fork bomb stops there. */
export const DEFAULT_PIDS_LIMIT = 1024;

function closed<T extends Record<string, TSchema>>(props: T) {
  return Type.Object(props, { additionalProperties: false });
}

export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';

export const HealthCheckSchema = closed({
  http: Type.Optional(closed({ port: Port, path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, pattern: '^/' })) })),
  tcp: Type.Optional(closed({ port: Port })),
  exec: Type.Optional(closed({ command: Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 64 }) })),
  interval: Type.Optional(Duration),
  timeout: Type.Optional(Duration),
  retries: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  startPeriod: Type.Optional(Duration),
});

export const SpecInputSchema = closed({
  name: Type.String({ pattern: NAME_PATTERN, description: 'lower-case letters, digits and dashes, at most 63, starting and ending with a letter or digit' }),
  image: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\s]+$', description: 'an image reference without spaces' }),
  command: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256 })),
  replicas: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  resources: Type.Optional(closed({ cpu: Type.Optional(Cpu), memory: Type.Optional(Size), disk: Type.Optional(Size), pids: Type.Optional(Pids) })),
  env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 256 }), Type.String({ maxLength: 32_768 }), { additionalProperties: false, maxProperties: 256 })),
  network: Type.Optional(Type.Union([Type.Literal('host'), Type.Literal('bridge'), Type.Literal('none')])),
  ports: Type.Optional(
    Type.Array(closed({ container: Port, host: Type.Optional(Port), protocol: Type.Optional(Type.Union([Type.Literal('tcp'), Type.Literal('udp')])) }), { maxItems: 64 }),
  ),
  restart: Type.Optional(
    closed({
      policy: Type.Optional(Type.Union([Type.Literal('never'), Type.Literal('on-failure'), Type.Literal('always')])),
      maxAttempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
      delay: Type.Optional(Duration),
    }),
  ),
  healthCheck: Type.Optional(HealthCheckSchema),
  // Powers over the host: refused unless the cluster's settings allow them (orch cluster update --allow-privileged).
  privileged: Type.Optional(Type.Boolean()),
  capAdd: Type.Optional(Type.Array(Type.String({ pattern: '^(CAP_)?[A-Z_]{2,32}$', description: 'a Linux capability like NET_ADMIN' }), { maxItems: 41 })),
  mounts: Type.Optional(
    Type.Array(
      closed({
        source: Type.String({ pattern: '^/[^\\0]*$', maxLength: 4096, description: 'an absolute path on the host' }),
        target: Type.String({ pattern: '^/[^\\0]*$', maxLength: 4096, description: 'an absolute path in the container' }),
        readOnly: Type.Optional(Type.Boolean()),
      }),
      { maxItems: 32 },
    ),
  ),
  constraints: Type.Optional(Type.Array(Type.String({ maxLength: 512 }), { maxItems: 32 })),
  placement: Type.Optional(Placement),
  update: Type.Optional(
    closed({
      parallelism: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
      monitor: Type.Optional(Duration),
      failureAction: Type.Optional(Type.Union([Type.Literal('pause'), Type.Literal('rollback')])),
    }),
  ),
});

export type SpecInput = Static<typeof SpecInputSchema>;

// The normalized spec and a parsed constraint are API shapes: defined once, in src/api.
export type { Constraint, ServiceSpec } from '../api/spec.js';
