// The worker's own small HTTP server: it serves the logs of the containers it runs, so that any
// manager can relay `orch logs` from here. Only containers this node started are served, and on a
// TLS cluster only to the cluster's managers (mutual TLS).
import Fastify, { type FastifyInstance } from 'fastify';
import { peerOf, type TlsContext } from '../security/tls.js';
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { DEFAULT_SERVER_TIMEOUTS, timeoutOptions } from '../security/server-timeouts.js';

export async function startLogsServer(docker: Docker, nodeId: string, listen: { host: string; port: number }, tls: TlsContext | null = null): Promise<{ app: FastifyInstance; address: string }> {
  const app = Fastify({ logger: false, ...timeoutOptions(DEFAULT_SERVER_TIMEOUTS, tls?.serverOptions()) });
  if (tls) {
    tls.onChange(() => (app.server as unknown as { setSecureContext(o: object): void }).setSecureContext(tls.serverOptions()));
    app.addHook('onRequest', async (req, reply) => {
      if (peerOf(req.raw.socket, tls.material.clusterId)?.role !== 'manager') {
        return reply.code(403).send({ error: { code: 'not-a-manager', message: 'container logs are served to the cluster\'s managers only', details: null } });
      }
    });
  }
  app.get<{ Params: { id: string }; Querystring: { follow?: boolean; tail?: number } }>(
    '/v1/containers/:id/logs',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[a-f0-9]{12,64}$' } }, required: ['id'] },
        querystring: { type: 'object', properties: { follow: { type: 'boolean' }, tail: { type: 'integer', minimum: 0, maximum: 100_000 } }, additionalProperties: false },
      },
    },
    async (req, reply) => {
      const c = docker.getContainer(req.params.id);
      let info;
      try {
        info = await c.inspect();
      } catch {
        return reply.code(404).send({ error: { code: 'not-found', message: `container ${req.params.id} is not on this node`, details: null } });
      }
      if (info.Config.Labels?.['orch.node'] !== nodeId) {
        return reply.code(404).send({ error: { code: 'not-found', message: `container ${req.params.id} was not started by orch on this node`, details: null } });
      }
      const follow = req.query.follow === true;
      const opts = { stdout: true, stderr: true, ...(req.query.tail !== undefined ? { tail: req.query.tail } : {}) };
      const out = new PassThrough();
      if (follow) {
        // A quiet container sends nothing for long: a follow is not idle, it waits.
        req.raw.socket.setTimeout(0);
        const stream = (await c.logs({ ...opts, follow: true })) as unknown as NodeJS.ReadableStream;
        if (info.Config.Tty) stream.pipe(out);
        else docker.modem.demuxStream(stream, out, out);
        stream.on('end', () => out.end());
        req.raw.on('close', () => (stream as unknown as { destroy?: () => void }).destroy?.());
      } else {
        const buf = (await c.logs({ ...opts, follow: false })) as unknown as Buffer;
        if (info.Config.Tty) out.end(buf);
        else {
          const tmp = new PassThrough();
          docker.modem.demuxStream(tmp, out, out);
          tmp.on('end', () => out.end());
          tmp.end(buf);
        }
      }
      return reply.type('text/plain; charset=utf-8').send(out);
    },
  );
  await app.listen({ host: listen.host, port: listen.port });
  const addr = app.server.address() as { port: number };
  return { app, address: `${listen.host}:${addr.port}` };
}
