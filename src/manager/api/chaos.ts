// PUT/GET /chaos/faults: registered only on a manager started with --chaos (the chaos suite's
// nemesis uses it to cut Raft links one way at a time and to cut workers off). A production
// manager never has these routes.
import type { FastifyPluginAsync } from 'fastify';
import type { FaultSpec, NetworkFaults } from '../faults.js';

const ids = { type: 'array', items: { type: 'integer', minimum: 1, maximum: 1000 }, maxItems: 1000 } as const;

export const chaosRoutes: FastifyPluginAsync<{ faults: NetworkFaults }> = async (app, { faults }) => {
  app.put<{ Body: FaultSpec }>(
    '/chaos/faults',
    {
      schema: {
        body: {
          type: 'object',
          properties: { dropTo: ids, dropFrom: ids, isolateWorkers: { type: 'array', items: { type: 'string', pattern: '^[a-f0-9]{12}$' }, maxItems: 1000 } },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      faults.set(req.body);
      app.log.warn({ faults: faults.get() }, 'chaos: network faults set');
      return faults.get();
    },
  );
  app.get('/chaos/faults', async () => faults.get());
};
