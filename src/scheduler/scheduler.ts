// Placement as a pure function, shaped like Nomad's scheduler: feasibility filters decide which
// nodes can take a task, a scorer ranks the feasible ones, the best is picked (ties by node id, so
// the same input always gives the same output). All pending tasks of a round are placed in one
// pass, each placement updating the reservations the next one sees.
import type { Availability } from '../api/nodes.js';
import { formatConstraint, type Placement } from '../api/spec.js';
import type { Constraint } from '../spec/index.js';
import { formatBytes } from '../spec/units.js';
import { BinaryHeap } from './heap.js';

/** The placement strategies are the API's (a spec names one). */
export type Strategy = Placement;

export interface Resources {
  cpu: number;
  memory: number;
  disk: number;
}

export interface SchedNode {
  id: string;
  name: string;
  labels: Record<string, string>;
  status: 'ready' | 'down';
  availability: Availability;
  capacity: Resources;
  /** Live use from heartbeats (cpu in cpus, memory in bytes); null when the node sent none. */
  usage: { cpu: number; memory: number } | null;
}

export interface HostPort {
  port: number;
  protocol: 'tcp' | 'udp';
}

export interface SchedTask {
  id: string;
  serviceId: string;
  resources: Resources;
  constraints: Constraint[];
  /** Host ports the task binds (published ports, or its ports under host networking). */
  ports: HostPort[];
  /** The service's strategy, or null for the cluster's. */
  strategy: Strategy | null;
}

/** A task already committed to a node and not finished: it holds its reservation and ports. */
export interface PlacedTask {
  nodeId: string;
  serviceId: string;
  resources: Resources;
  ports: HostPort[];
}

export interface ScheduleInput {
  tasks: SchedTask[];
  nodes: SchedNode[];
  placed: PlacedTask[];
  strategy: Strategy;
  /** Where round-robin continues from (the last node it chose), so it alternates across rounds. */
  cursor?: string | null;
}

export interface ScheduleResult {
  assignments: { taskId: string; nodeId: string }[];
  unplaced: { taskId: string; reason: string }[];
  cursor: string | null;
}

/** The constant of the E-PVM cost function (Amir et al.), as in the seeds. */
export const EPVM_L = 1.53960071783900203869;
export const EPVM_MAX_JOBS = 4;

interface NodeState {
  node: SchedNode;
  reserved: Resources;
  tasks: number;
  perService: Map<string, number>;
  ports: Set<string>;
}

function portKey(p: HostPort): string {
  return `${p.port}/${p.protocol}`;
}

export function matchesConstraint(c: Constraint, n: SchedNode): boolean {
  const actual = c.field === 'name' ? n.name : c.field === 'id' ? n.id : n.labels[c.label ?? ''];
  return c.op === '==' ? actual === c.value : actual !== c.value;
}

/**
 * The E-PVM marginal cost of putting `task` on a node: for each resource, L^(utilisation with the
 * task) - L^(utilisation without), plus the same for the task count against EPVM_MAX_JOBS. Lower is
 * better. Utilisation counts the larger of what is reserved and what the node reports using, so
 * neither an idle reservation nor a busy unreserved process is ignored; a node without stats is
 * judged by its reservations alone (it does not score 0 and win, as in the seeds).
 */
export function epvmCost(capacity: Resources, reserved: Resources, usage: { cpu: number; memory: number } | null, tasks: number, task: Resources): number {
  let cost = 0;
  const dims: [number, number, number][] = [
    [capacity.cpu, Math.max(reserved.cpu, usage?.cpu ?? 0), task.cpu],
    [capacity.memory, Math.max(reserved.memory, usage?.memory ?? 0), task.memory],
  ];
  for (const [cap, used, add] of dims) {
    if (cap <= 0) continue;
    cost += EPVM_L ** ((used + add) / cap) - EPVM_L ** (used / cap);
  }
  cost += EPVM_L ** ((tasks + 1) / EPVM_MAX_JOBS) - EPVM_L ** (tasks / EPVM_MAX_JOBS);
  return cost;
}

function reservedFraction(s: NodeState, add: Resources): number {
  let sum = 0;
  let dims = 0;
  for (const k of ['cpu', 'memory', 'disk'] as const) {
    if (s.node.capacity[k] <= 0) continue;
    sum += (s.reserved[k] + add[k]) / s.node.capacity[k];
    dims++;
  }
  return dims ? sum / dims : 0;
}

export function schedule(input: ScheduleInput): ScheduleResult {
  const states = new Map<string, NodeState>();
  const sorted = [...input.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const node of sorted) states.set(node.id, { node, reserved: { cpu: 0, memory: 0, disk: 0 }, tasks: 0, perService: new Map(), ports: new Set() });
  for (const p of input.placed) {
    const s = states.get(p.nodeId);
    if (s) reserve(s, p.serviceId, p.resources, p.ports);
  }
  const out: ScheduleResult = { assignments: [], unplaced: [], cursor: input.cursor ?? null };
  const all = [...states.values()];
  // Identical tasks (same service, shape, constraints, ports, strategy) are placed as a group: the
  // static filters run once per group, and the best node comes off a heap, so a pass costs
  // O(tasks log nodes) rather than O(tasks x nodes). Within a pass reservations only grow, so a
  // node that cannot take one task of a group cannot take the next either.
  const groups = new Map<string, SchedTask[]>();
  for (const t of input.tasks) {
    const key = JSON.stringify([t.serviceId, t.resources, t.constraints, t.ports, t.strategy]);
    const g = groups.get(key);
    if (g) g.push(t);
    else groups.set(key, [t]);
  }
  for (const tasks of groups.values()) placeGroup(tasks, all, input.strategy, out);
  return out;
}

function reserve(s: NodeState, serviceId: string, r: Resources, ports: HostPort[]): void {
  s.reserved.cpu += r.cpu;
  s.reserved.memory += r.memory;
  s.reserved.disk += r.disk;
  s.tasks++;
  s.perService.set(serviceId, (s.perService.get(serviceId) ?? 0) + 1);
  for (const p of ports) s.ports.add(portKey(p));
}

/** Resources and ports: what changes as tasks are placed. */
function fitsNow(s: NodeState, task: SchedTask): boolean {
  for (const k of ['cpu', 'memory', 'disk'] as const) {
    if (task.resources[k] > 0 && s.reserved[k] + task.resources[k] > s.node.capacity[k] + 1e-9) return false;
  }
  return !task.ports.some((p) => s.ports.has(portKey(p)));
}

function placeGroup(tasks: SchedTask[], all: NodeState[], clusterStrategy: Strategy, out: ScheduleResult): void {
  const task = tasks[0];
  const strategy = task.strategy ?? clusterStrategy;
  const candidates = all.filter((s) => s.node.status === 'ready' && s.node.availability === 'active' && task.constraints.every((c) => matchesConstraint(c, s.node)));
  let k = 0;
  if (strategy === 'round-robin') {
    let live = candidates;
    for (; k < tasks.length; k++) {
      live = live.filter((s) => fitsNow(s, tasks[k]));
      if (live.length === 0) break;
      // The first feasible node after the cursor, in id order.
      const next = live.find((s) => out.cursor === null || s.node.id > out.cursor) ?? live[0];
      out.cursor = next.node.id;
      reserve(next, tasks[k].serviceId, tasks[k].resources, tasks[k].ports);
      out.assignments.push({ taskId: tasks[k].id, nodeId: next.node.id });
    }
  } else {
    const heap = new NodeHeap(scorer(strategy, task));
    for (const s of candidates) if (fitsNow(s, task)) heap.push(s);
    for (; k < tasks.length; k++) {
      let best = heap.pop();
      while (best && !fitsNow(best, tasks[k])) best = heap.pop();
      if (!best) break;
      reserve(best, tasks[k].serviceId, tasks[k].resources, tasks[k].ports);
      out.assignments.push({ taskId: tasks[k].id, nodeId: best.node.id });
      if (fitsNow(best, tasks[k])) heap.push(best);
    }
  }
  if (k < tasks.length) {
    const reason = explain(tasks[k], all);
    for (; k < tasks.length; k++) out.unplaced.push({ taskId: tasks[k].id, reason });
  }
}

/** The score of a node for a task under a strategy: higher is better. */
function scorer(strategy: Exclude<Strategy, 'round-robin'>, task: SchedTask): (s: NodeState) => number {
  switch (strategy) {
    case 'epvm':
      return (s) => -epvmCost(s.node.capacity, s.reserved, s.node.usage, s.tasks, task.resources);
    case 'binpack':
      // The most-reserved node that still fits (Nomad's default).
      return (s) => reservedFraction(s, task.resources);
    case 'spread':
      // Fewest tasks of the same service, then the least reserved (Swarm's behaviour).
      return (s) => -(s.perService.get(task.serviceId) ?? 0) * 1e6 - reservedFraction(s, task.resources) - s.tasks * 1e-6;
  }
}

/** A max-heap of nodes by score, ties to the lowest node id (deterministic). */
class NodeHeap {
  private readonly heap = new BinaryHeap<{ s: NodeState; v: number }>((a, b) => a.v > b.v + 1e-12 || (Math.abs(a.v - b.v) <= 1e-12 && a.s.node.id < b.s.node.id));
  constructor(private readonly score: (s: NodeState) => number) {}

  push(s: NodeState): void {
    this.heap.push({ s, v: this.score(s) });
  }

  pop(): NodeState | undefined {
    return this.heap.pop()?.s;
  }
}

/** Why no node takes this task: each filter counts the nodes it turned away. */
function explain(task: SchedTask, all: NodeState[]): string {
  const away = { status: 0, constraint: new Map<string, number>(), cpu: 0, memory: 0, disk: 0, ports: 0 };
  for (const s of all) {
    const n = s.node;
    if (n.status !== 'ready' || n.availability !== 'active') {
      away.status++;
      continue;
    }
    const failed = task.constraints.find((c) => !matchesConstraint(c, n));
    if (failed) {
      const d = formatConstraint(failed);
      away.constraint.set(d, (away.constraint.get(d) ?? 0) + 1);
      continue;
    }
    const r = (['cpu', 'memory', 'disk'] as const).find((x) => task.resources[x] > 0 && s.reserved[x] + task.resources[x] > n.capacity[x] + 1e-9);
    if (r) away[r]++;
    else if (task.ports.some((p) => s.ports.has(portKey(p)))) away.ports++;
  }
  return unplacedReason(task, all.length, away);
}

function unplacedReason(
  task: SchedTask,
  nodes: number,
  away: { status: number; constraint: Map<string, number>; cpu: number; memory: number; disk: number; ports: number },
): string {
  if (nodes === 0) return 'no worker has joined the cluster yet';
  const parts: string[] = [];
  if (away.memory) parts.push(`no node has ${formatBytes(task.resources.memory)} free memory (${away.memory} too full)`);
  if (away.cpu) parts.push(`no node has ${task.resources.cpu} free cpus (${away.cpu} too busy)`);
  if (away.disk) parts.push(`no node has ${formatBytes(task.resources.disk)} free disk (${away.disk} too full)`);
  if (away.ports) parts.push(`${away.ports} node(s) already use host port ${task.ports.map(portKey).join(', ')}`);
  for (const [c, n] of away.constraint) parts.push(`${n} node(s) filtered by constraint ${c}`);
  if (away.status) parts.push(`${away.status} node(s) not ready or not active`);
  return parts.join('; ');
}
