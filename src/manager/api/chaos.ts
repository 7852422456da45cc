// PUT/GET /chaos/faults: registered only on a manager started with --chaos (the chaos suite's
// nemesis uses it to cut Raft links one way at a time and to cut workers off). A production
// manager never has these routes.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { FaultSpec, FaultsInForce } from '../../api/chaos.js';
import type { NetworkFaults } from '../faults.js';

export const chaosRoutes: FastifyPluginAsyncTypebox<{ faults: NetworkFaults }> = async (app, { faults }) => {
  app.put('/chaos/faults', { config: { access: 'admin' }, schema: { body: FaultSpec, response: { 200: FaultsInForce } } }, async (req) => {
    faults.set(req.body);
    app.log.warn({ faults: faults.get() }, 'chaos: network faults set');
    return faults.get();
  });
  app.get('/chaos/faults', { config: { access: 'read' }, schema: { response: { 200: FaultsInForce } } }, async () => faults.get());
};
