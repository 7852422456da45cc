// The receiving side of the Raft transport, as an encapsulated fastify plugin: POST /raft/messages
// takes a frame of messages; POST /raft/snapshot takes a snapshot in ordered chunks. Frames are
// untrusted: they are decoded strictly, and must come from a known peer of this cluster, to us.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { CodecError, decodeMessages, encodeMessages } from './core/codec.js';
import { MESSAGES_PATH, SNAPSHOT_PATH } from './transport.js';
import type { RaftFaults } from './faults.js';
import type { Message, NodeId } from './core/types.js';

export interface RaftRoutesOptions {
  self: NodeId;
  clusterId: string;
  peers: () => ReadonlySet<NodeId>;
  receive: (msgs: Message[]) => void;
  /** Steps the messages and resolves with the answers for `from` (sent back in the response). */
  receiveAndReply?: (from: NodeId, msgs: Message[]) => Promise<Message[]>;
  /** A peer's connection to us closed (a hint that the peer's process may have died). */
  peerConnectionClosed?: (from: NodeId) => void;
  maxFrameBytes?: number;
  maxSnapshotBytes?: number;
  /** Injected faults (chaos runs only). */
  faults?: RaftFaults;
  /**
   * Mutual TLS: the peer a request comes from, as its client certificate proves (null: none of
   * ours). The x-orch-from header must then agree with it. Without, the header is taken as said.
   */
  senderOf?: (req: FastifyRequest) => NodeId | null;
}

interface Assembly {
  id: string;
  total: number;
  parts: Buffer[];
  got: number;
}

function fail(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

export const raftRoutes: FastifyPluginAsync<RaftRoutesOptions> = async (app: FastifyInstance, opts) => {
  const maxFrame = opts.maxFrameBytes ?? 64 << 20;
  const maxSnapshot = opts.maxSnapshotBytes ?? 1 << 30;
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: maxFrame }, (_req, body, done) => done(null, body));
  const assemblies = new Map<NodeId, Assembly>();
  const watched = new WeakSet<object>();

  /** Remembers which peer a connection belongs to, to report its closing. */
  function watch(socket: { once(ev: 'close', f: () => void): unknown } | null | undefined, from: NodeId): void {
    if (!socket || !opts.peerConnectionClosed || watched.has(socket)) return;
    watched.add(socket);
    socket.once('close', () => opts.peerConnectionClosed?.(from));
  }

  /** Decodes a frame and checks every message is from that peer to us. Returns messages or an error. */
  function check(from: NodeId, body: Buffer): Message[] | string {
    let msgs: Message[];
    try {
      msgs = decodeMessages(body);
    } catch (err) {
      if (err instanceof CodecError) return err.message;
      throw err;
    }
    const peers = opts.peers();
    for (const m of msgs) {
      if (m.to !== opts.self) return `message for node ${m.to} sent to node ${opts.self}`;
      if (m.from !== from || !peers.has(m.from)) return `message from node ${m.from}, which is not a peer of this node`;
    }
    return msgs;
  }

  function accept(from: NodeId, body: Buffer): string | null {
    const msgs = check(from, body);
    if (typeof msgs === 'string') return msgs;
    opts.receive(msgs);
    return null;
  }

  function origin(req: FastifyRequest, reply: FastifyReply): NodeId | null {
    const headers = req.headers;
    if (headers['x-orch-cluster'] !== opts.clusterId) {
      fail(reply, 403, 'wrong-cluster', `this node belongs to cluster ${opts.clusterId}, not ${String(headers['x-orch-cluster'])}`);
      return null;
    }
    if (opts.senderOf) {
      const proven = opts.senderOf(req);
      if (proven === null || !opts.peers().has(proven)) {
        fail(reply, 403, 'unknown-peer', 'the client certificate names no manager of this node\'s configuration');
        return null;
      }
      if (headers['x-orch-from'] !== undefined && String(headers['x-orch-from']) !== String(proven)) {
        fail(reply, 403, 'wrong-sender', `x-orch-from ${String(headers['x-orch-from']).slice(0, 20)} is not the manager the client certificate names (${proven})`);
        return null;
      }
      return proven;
    }
    const from = Number(headers['x-orch-from']);
    if (!Number.isSafeInteger(from) || !opts.peers().has(from)) {
      fail(reply, 403, 'unknown-peer', `x-orch-from ${String(headers['x-orch-from'])} is not a peer of this node`);
      return null;
    }
    return from;
  }

  /** A message lost on the way in, as a partition would lose it: the sender sees a failed request. */
  function partitioned(from: NodeId, reply: FastifyReply): boolean {
    if (!opts.faults || opts.faults.canReceiveFrom(from)) return false;
    fail(reply, 503, 'partitioned', `messages from node ${from} are dropped (chaos fault)`);
    return true;
  }

  // Only a manager of this cluster may call them (src/manager/api/auth.ts checks its certificate).
  const manager = { config: { access: 'manager' as const } };

  app.post(MESSAGES_PATH, manager, async (req, reply) => {
    const from = origin(req, reply);
    if (from === null || partitioned(from, reply)) return reply;
    if (!Buffer.isBuffer(req.body)) return fail(reply, 415, 'bad-content-type', 'expected an application/octet-stream body');
    const msgs = check(from, req.body);
    if (typeof msgs === 'string') return fail(reply, 400, 'bad-frame', msgs);
    watch(req.raw.socket, from);
    if (req.headers['x-orch-reply'] === '1' && opts.receiveAndReply) {
      const answers = await opts.receiveAndReply(from, msgs);
      // One-way: what we would answer to a peer we may not send to is lost too.
      if (opts.faults && !opts.faults.canSendTo(from)) return reply.code(204).send();
      if (answers.length > 0) return reply.code(200).header('content-type', 'application/octet-stream').send(Buffer.from(encodeMessages(answers)));
      return reply.code(204).send();
    }
    opts.receive(msgs);
    return reply.code(204).send();
  });

  app.post(SNAPSHOT_PATH, manager, async (req, reply) => {
    const from = origin(req, reply);
    if (from === null || partitioned(from, reply)) return reply;
    if (!Buffer.isBuffer(req.body)) return fail(reply, 415, 'bad-content-type', 'expected an application/octet-stream body');
    const id = String(req.headers['x-orch-snapshot'] ?? '');
    const offset = Number(req.headers['x-orch-offset']);
    const total = Number(req.headers['x-orch-total']);
    if (!id || !Number.isSafeInteger(offset) || !Number.isSafeInteger(total) || offset < 0 || total < 0 || total > maxSnapshot) {
      return fail(reply, 400, 'bad-chunk', 'x-orch-snapshot, x-orch-offset and x-orch-total must name a chunk of a snapshot within limits');
    }
    let a = assemblies.get(from);
    if (offset === 0) {
      a = { id, total, parts: [], got: 0 };
      assemblies.set(from, a);
    }
    if (!a || a.id !== id || a.total !== total || a.got !== offset) {
      assemblies.delete(from);
      return fail(reply, 409, 'chunk-out-of-order', `chunk at ${offset} of snapshot ${id} does not follow what was received`);
    }
    a.parts.push(req.body);
    a.got += req.body.length;
    if (a.got > a.total) {
      assemblies.delete(from);
      return fail(reply, 400, 'bad-chunk', `snapshot ${id} is longer than its stated ${total} bytes`);
    }
    if (a.got === a.total) {
      assemblies.delete(from);
      const err = accept(from, Buffer.concat(a.parts));
      if (err) return fail(reply, 400, 'bad-frame', err);
    }
    return reply.code(204).send();
  });
};
