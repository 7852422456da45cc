// Applying the service commands: create or change a service, stop it, and the steps of a rolling
// update. Deterministic: ids and timestamps come inside the commands.
import { canonicalSpec, upgradeSpec, type ServiceSpec } from '../../../spec/index.js';
import type { ClusterModel } from './model.js';
import { TERMINAL, type ClusterResult, type CommandOf, type Service } from './types.js';

/** What a task runs: the spec without the settings that only say how many or how to roll out. */
export function taskSpec(spec: ServiceSpec): string {
  return canonicalSpec({ ...spec, replicas: 0, update: { parallelism: 1, monitorMs: 0, failureAction: 'pause' } });
}

/** The spec a task of the given version runs (the service's current one if that version is gone). */
export function specOf(svc: Service, version: number): ServiceSpec {
  return svc.specs[version] ?? svc.spec;
}

export function upsertService(m: ClusterModel, c: CommandOf<'service.upsert'>): ClusterResult {
  // Entries written by an older version lack the fields added since.
  const cmd = { ...c, spec: upgradeSpec(c.spec) };
  const existing = m.findService(cmd.spec.name);
  if (!existing) {
    if (cmd.expectVersion !== undefined && cmd.expectVersion !== 0) {
      return { ok: false, code: 'not-found', message: `service ${cmd.spec.name} does not exist` };
    }
    const svc: Service = {
      id: cmd.serviceId,
      name: cmd.spec.name,
      spec: cmd.spec,
      version: 1,
      taskVersion: 1,
      state: 'active',
      specs: { 1: cmd.spec },
      maxTaskVersion: 1,
      update: null,
      createdAt: cmd.ts,
      updatedAt: cmd.ts,
    };
    m.services.set(svc.id, svc);
    m.byName.set(svc.name, svc.id);
    return { ok: true, created: true, changed: true, service: svc };
  }
  if (cmd.expectVersion !== undefined && cmd.expectVersion !== existing.version) {
    return { ok: false, code: 'version-mismatch', message: `service ${existing.name} is at version ${existing.version}, not ${cmd.expectVersion}` };
  }
  const changed = existing.state !== 'active' || canonicalSpec(existing.spec) !== canonicalSpec(cmd.spec);
  if (!changed) return { ok: true, created: false, changed, service: existing };
  if (taskSpec(existing.spec) !== taskSpec(cmd.spec)) {
    const from = existing.taskVersion;
    existing.taskVersion = ++existing.maxTaskVersion;
    existing.specs[existing.taskVersion] = cmd.spec;
    // Tasks running the old spec are replaced as a rolling update; with none (a stopped service
    // started again) the new tasks are simply created.
    const live = existing.state === 'active' && m.tasksOf(existing.id).some((t) => t.desired === 'running' && !TERMINAL.has(t.state));
    existing.update = live ? { state: 'updating', from, to: existing.taskVersion, startedAt: cmd.ts, updatedAt: cmd.ts, message: null } : null;
  } else {
    // Replicas or update settings only: the same tasks go on (a scale is not a redeploy).
    existing.specs[existing.taskVersion] = cmd.spec;
  }
  existing.spec = cmd.spec;
  existing.version++;
  existing.state = 'active';
  existing.updatedAt = cmd.ts;
  pruneSpecs(m, existing);
  return { ok: true, created: false, changed, service: existing };
}

/** A step of a rolling update, decided by the leader's reconciler (or a person's rollback). */
export function updateService(m: ClusterModel, cmd: CommandOf<'service.update'>): ClusterResult {
  const svc = m.findService(cmd.serviceId);
  if (!svc) return { ok: false, code: 'not-found', message: `service ${cmd.serviceId} does not exist` };
  const u = svc.update;
  // A decision about another update than the current one is stale: it changes nothing.
  if (!u || u.to !== cmd.to || svc.state !== 'active') return { ok: true, update: u, service: svc };
  const rollingBack = u.state === 'rolling-back';
  if (cmd.action === 'complete' && (u.state === 'updating' || rollingBack)) {
    u.state = rollingBack ? 'rolled-back' : 'completed';
  } else if (cmd.action === 'pause' && (u.state === 'updating' || rollingBack)) {
    u.state = 'paused';
  } else if (cmd.action === 'rollback' && !rollingBack && u.state !== 'rolled-back' && svc.specs[u.from]) {
    // Back to the spec before the update (its number too, so that tasks still running it stay),
    // keeping the replicas asked for since.
    svc.spec = { ...svc.specs[u.from], replicas: svc.spec.replicas };
    svc.taskVersion = u.from;
    svc.version++;
    svc.updatedAt = cmd.ts;
    svc.update = { state: 'rolling-back', from: u.to, to: u.from, startedAt: cmd.ts, updatedAt: cmd.ts, message: cmd.message };
    return { ok: true, update: svc.update, service: svc };
  } else {
    return { ok: true, update: u, service: svc };
  }
  u.updatedAt = cmd.ts;
  if (cmd.message !== null) u.message = cmd.message;
  pruneSpecs(m, svc);
  return { ok: true, update: u, service: svc };
}

export function stopService(m: ClusterModel, cmd: CommandOf<'service.stop'>): ClusterResult {
  const svc = m.findService(cmd.service);
  if (!svc) return { ok: false, code: 'not-found', message: `service ${cmd.service} does not exist` };
  svc.state = 'stopped';
  svc.updatedAt = cmd.ts;
  if (svc.update && (svc.update.state === 'updating' || svc.update.state === 'rolling-back')) {
    svc.update.state = 'paused';
    svc.update.message = 'the service was stopped';
    svc.update.updatedAt = cmd.ts;
  }
  let n = 0;
  for (const t of m.tasksOf(svc.id)) {
    if (t.desired === 'running') {
      t.desired = 'shutdown';
      t.updatedAt = cmd.ts;
      m.touchNode(t.nodeId);
      n++;
    }
    if (t.nodeId === null && !TERMINAL.has(t.state)) {
      t.state = 'shutdown';
      t.reason = null;
    }
  }
  return { ok: true, stopped: true, service: svc, tasks: n };
}

/** Keeps the specs some task or a rollback may still need; the rest go (the state stays bounded). */
function pruneSpecs(m: ClusterModel, svc: Service): void {
  const keep = new Set<number>([svc.taskVersion]);
  if (svc.update) keep.add(svc.update.from);
  for (const t of m.tasksOf(svc.id)) if (!TERMINAL.has(t.state)) keep.add(t.version);
  for (const v of Object.keys(svc.specs)) if (!keep.has(Number(v))) delete svc.specs[v];
}
