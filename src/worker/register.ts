// Registering a node with the managers under this agent's session. A worker restarted in place has a
// new session while the managers still hold its last one for a moment (see
// src/manager/sessions.ts): it waits for that one to go quiet. A holder that stays alive is another
// agent running this node (a copy of the data dir): then this one gives up with one clear line.
import { randomBytes } from 'node:crypto';
import type { NodeRegistration } from '../api/nodes.js';
import { ApiRequestError, type OrchClient } from '../client/client.js';

/** A new random session id: one per agent start. */
export function newSession(): string {
  return randomBytes(16).toString('hex');
}

export async function registerNode(client: OrchClient, node: NodeRegistration, session: string, log: (m: string) => void): Promise<{ managers: string[] }> {
  const start = Date.now();
  for (let attempt = 0; attempt < 1000; attempt++) {
    try {
      return await client.registerNode(node, session);
    } catch (err) {
      if (!(err instanceof ApiRequestError) || err.code !== 'node-session-taken') throw err;
      const d = (err.details ?? {}) as { retryInMs?: number; staleMs?: number };
      // Three times the holder's grace: a holder that kept renewing all along is alive.
      if (Date.now() - start > 3 * (d.staleMs ?? 2000)) {
        throw new Error(`node ${node.id} (${node.name}) is already run by another agent that is alive (a copy of this data dir?); this one exits. Stop the other, or give this worker its own data dir`);
      }
      if (attempt === 0) log(`node ${node.id} is held by another agent session (this worker restarted?); waiting for it to go quiet`);
      await new Promise((r) => setTimeout(r, Math.min(Math.max(d.retryInMs ?? 250, 50), 2000)));
    }
  }
  throw new Error(`node ${node.id}: could not register`);
}
