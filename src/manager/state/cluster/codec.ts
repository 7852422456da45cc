// The cluster's part of a snapshot. Two forms are read: the compact one written since snapshot
// format v4 (encodeCluster/decodeCluster), and the plain one (the model's toJSON) of v3. Older
// snapshots lack fields added since; upgradePlain() fills them in. Changing what encodeCluster
// writes changes the snapshot format: test/unit/cluster-state-snapshot.test.ts holds it to a
// snapshot written before.
import { upgradeSpec } from '../../../spec/index.js';
import type { ClusterModel, PlainClusterState } from './model.js';
import { HEALTHS, HEALTH_CODE, STATES, STATE_CODE } from './states.js';
import type { NodeRecord, Service, Task } from './types.js';

/**
 * A task in a snapshot: id, service id, service name, slot, version, node, desired (0 running,
 * 1 shutdown), state, container id, exit code, error, reason, restarts, runningAt - createdAt,
 * health, createdAt, updatedAt - createdAt. Strings other than the ids are positions in `strings`
 * (-1: null); states and health are positions in STATES and HEALTHS.
 */
type TaskRow = [string, number, number, number, number, number, number, number, string | null, number | null, number, number, number, number | null, number, number, number];

export interface CompactClusterState {
  services: Service[];
  strings: string[];
  tasks: TaskRow[];
  nodes: NodeRecord[];
  removedNodes: string[];
  revision: number;
  assignVersion: [string, number][];
}

/**
 * The state for a snapshot, compactly: a task is a row of values, not an object with named fields,
 * and the strings many tasks share (service, node, error, reason) are written once, in `strings`,
 * and referred to by their position. 100,000 tasks take about a third of the bytes of toJSON's
 * form, and encode and decode faster. Deterministic: the same state gives the same bytes.
 */
export function encodeCluster(m: ClusterModel): CompactClusterState {
  const strings: string[] = [];
  const refs = new Map<string, number>();
  const ref = (v: string | null): number => {
    if (v === null) return -1;
    let k = refs.get(v);
    if (k === undefined) {
      k = strings.length;
      strings.push(v);
      refs.set(v, k);
    }
    return k;
  };
  const tasks: TaskRow[] = [];
  for (const t of m.tasks.values()) {
    tasks.push([
      t.id,
      ref(t.serviceId),
      ref(t.serviceName),
      t.slot,
      t.version,
      ref(t.nodeId),
      t.desired === 'running' ? 0 : 1,
      STATE_CODE[t.state],
      t.containerId,
      t.exitCode,
      ref(t.error),
      ref(t.reason),
      t.restarts,
      t.runningAt === null ? null : t.runningAt - t.createdAt,
      t.health === null ? -1 : HEALTH_CODE[t.health],
      t.createdAt,
      t.updatedAt - t.createdAt,
    ]);
  }
  return { services: [...m.services.values()], strings, tasks, nodes: [...m.nodes.values()], removedNodes: [...m.removedNodes], revision: m.revision, assignVersion: [...m.assignVersion] };
}

/** What encodeCluster() gave, as plain data (not yet upgraded: see upgradePlain). */
export function decodeCluster(s: CompactClusterState): PlainClusterState {
  const str = s.strings;
  const tasks: Task[] = new Array(s.tasks.length);
  for (let k = 0; k < s.tasks.length; k++) {
    const r = s.tasks[k];
    if (!Array.isArray(r) || r.length !== 17) throw new Error(`snapshot: task row ${k} is malformed`);
    const createdAt = r[15];
    tasks[k] = {
      id: r[0],
      serviceId: str[r[1]],
      serviceName: str[r[2]],
      slot: r[3],
      version: r[4],
      nodeId: r[5] < 0 ? null : str[r[5]],
      desired: r[6] === 0 ? 'running' : 'shutdown',
      state: STATES[r[7]],
      containerId: r[8],
      exitCode: r[9],
      error: r[10] < 0 ? null : str[r[10]],
      reason: r[11] < 0 ? null : str[r[11]],
      restarts: r[12],
      runningAt: r[13] === null ? null : createdAt + r[13],
      health: r[14] < 0 ? null : HEALTHS[r[14]],
      createdAt,
      updatedAt: createdAt + r[16],
    };
    if (tasks[k].state === undefined || typeof tasks[k].id !== 'string') throw new Error(`snapshot: task row ${k} is malformed`);
  }
  return { ...s, tasks };
}

/** The snapshot format (ManagerState's `v`) since which the cluster is in the compact form. */
export const COMPACT_SINCE = 4;

/** The cluster's part of a snapshot of format `v`, as plain data (not yet upgraded: see upgradePlain). */
export function readCluster(v: number, data: CompactClusterState | PlainClusterState): PlainClusterState {
  return v >= COMPACT_SINCE ? decodeCluster(data as CompactClusterState) : (data as PlainClusterState);
}

/** Fills in, in place, what snapshots written by older versions lack; returns `s`. */
export function upgradePlain(s: PlainClusterState): PlainClusterState {
  for (const svc of s.services) {
    // Older snapshots knew only the current spec.
    svc.spec = upgradeSpec(svc.spec);
    svc.specs ??= { [svc.taskVersion]: svc.spec };
    for (const v of Object.keys(svc.specs)) svc.specs[v] = upgradeSpec(svc.specs[v]);
    svc.maxTaskVersion ??= svc.taskVersion;
    svc.update ??= null;
  }
  for (const t of s.tasks) {
    t.runningAt ??= null;
    t.health ??= null;
  }
  return s;
}
