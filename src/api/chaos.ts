// PUT/GET /chaos/faults (a manager started with --chaos only): the network faults to inject.
import { Type, type Static } from '@sinclair/typebox';

const Ids = Type.Array(Type.Integer({ minimum: 1, maximum: 1000 }), { maxItems: 1000 });

export const FaultSpec = Type.Object(
  {
    /** Raft messages this manager sends to these peers are lost. */
    dropTo: Type.Optional(Ids),
    /** Raft messages from these peers are lost on arrival. */
    dropFrom: Type.Optional(Ids),
    /** Worker node ids whose requests this manager refuses (as if unreachable). */
    isolateWorkers: Type.Optional(Type.Array(Type.String({ pattern: '^[a-f0-9]{12}$' }), { maxItems: 1000 })),
  },
  { additionalProperties: false },
);
export type FaultSpec = Static<typeof FaultSpec>;

/** What the manager injects now, every list present. */
export const FaultsInForce = Type.Object({ dropTo: Type.Array(Type.Integer()), dropFrom: Type.Array(Type.Integer()), isolateWorkers: Type.Array(Type.String()) });
export type FaultsInForce = Static<typeof FaultsInForce>;
