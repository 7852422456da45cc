// The Docker runtime (dockerode): one container per task, labelled so that a restarted worker can
// find its containers again, with Init (a fast, clean stop), no-new-privileges, a pids limit, the
// task's cpu and memory limits, env, command, network mode and port bindings. Images come through
// ImagePuller (a pull timeout, no cached failures); exits from Docker's event stream (docker-events.ts,
// which reconnects when dockerd restarts).
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { watchExits } from './docker-events.js';
import { reason, statusCode, unreachable } from './docker-errors.js';
import { DEFAULT_PULL_TIMEOUT_MS, ImagePuller } from './image-pull.js';
import { EngineUnreachable, type Runtime, type RuntimeContainer, type TaskToRun } from './runtime.js';

export function dockerFromHost(host: string | undefined): Docker {
  if (!host) return new Docker();
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  const u = new URL(host.replace(/^tcp:/, 'http:'));
  return new Docker({ host: u.hostname, port: Number(u.port || 2375), protocol: u.protocol === 'https:' ? 'https' : 'http' });
}

export interface DockerRuntimeOptions {
  /** A pull that makes no progress for this long is given up (the task fails, saying so). */
  pullTimeoutMs?: number;
  /** Where the runtime says that it lost or found again the engine's events. */
  log?: (msg: string) => void;
  /** More labels for every container, e.g. those that tie it to this worker's data dir (see old-identity.ts). */
  labels?: Record<string, string>;
}

export class DockerRuntime implements Runtime {
  readonly checksHealth = true;
  /** Where each running container's ports are reached (an address does not change while it runs). */
  private readonly hosts = new Map<string, { ip: string | null; bindings: Record<string, { HostPort: string }[] | null> }>();
  private readonly images: ImagePuller;

  constructor(
    private readonly docker: Docker,
    private readonly nodeId: string,
    private readonly stopGraceSec = 10,
    private readonly opts: DockerRuntimeOptions = {},
  ) {
    this.images = new ImagePuller(docker, opts.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS);
  }

  async list(): Promise<RuntimeContainer[]> {
    const cs = await this.docker.listContainers({ all: true, filters: { label: [`orch.node=${this.nodeId}`] } });
    return cs.map((c) => ({
      containerId: c.Id,
      taskId: c.Labels['orch.task'],
      running: c.State === 'running',
      exitCode: c.State === 'exited' ? Number(/Exited \((-?\d+)\)/.exec(c.Status)?.[1] ?? NaN) : null,
    }));
  }

  async start(task: TaskToRun): Promise<string> {
    const s = task.spec;
    await this.images.ensure(s.image);
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostPort: string }[]> = {};
    for (const p of s.ports) {
      exposed[`${p.container}/${p.protocol}`] = {};
      if (s.network === 'bridge') bindings[`${p.container}/${p.protocol}`] = [{ HostPort: String(p.host ?? p.container) }];
    }
    const c = await this.docker.createContainer({
      name: `orch-${task.serviceName}.${task.slot}.${task.id}`,
      Image: s.image,
      ...(s.command.length ? { Cmd: s.command } : {}),
      Env: Object.entries(s.env).map(([k, v]) => `${k}=${v}`),
      Labels: { ...this.opts.labels, 'orch.task': task.id, 'orch.service': task.serviceName, 'orch.slot': String(task.slot), 'orch.node': this.nodeId },
      ExposedPorts: exposed,
      HostConfig: {
        Init: true,
        // No setuid binary or file capability gives a process more than its parent had.
        SecurityOpt: ['no-new-privileges'],
        // A fork bomb stops at the limit instead of taking the node's pids.
        PidsLimit: s.resources.pids,
        NetworkMode: s.network,
        ...(s.resources.memory > 0 ? { Memory: s.resources.memory } : {}),
        ...(s.resources.cpu > 0 ? { NanoCpus: Math.round(s.resources.cpu * 1e9) } : {}),
        PortBindings: bindings,
        // Allowed by the managers only when the cluster's settings allow it (orch cluster update --allow-privileged).
        ...(s.privileged ? { Privileged: true } : {}),
        ...(s.capAdd.length ? { CapAdd: s.capAdd } : {}),
        ...(s.mounts.length ? { Binds: s.mounts.map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`) } : {}),
      },
    });
    try {
      await c.start();
    } catch (err) {
      await c.remove({ force: true }).catch(() => undefined);
      throw new Error(`container for task ${task.id} did not start: ${reason(err)}`);
    }
    return c.id;
  }

  async remove(containerId: string): Promise<void> {
    this.hosts.delete(containerId);
    const c = this.docker.getContainer(containerId);
    try {
      await c.stop({ t: this.stopGraceSec });
    } catch (err) {
      if (statusCode(err) !== 304 && statusCode(err) !== 404) throw err;
    }
    try {
      await c.remove({ force: true });
    } catch (err) {
      if (statusCode(err) !== 404 && statusCode(err) !== 409) throw err;
    }
  }

  /** Runs f, turning "the engine is not there" into EngineUnreachable. */
  private async reach<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (unreachable(err)) throw new EngineUnreachable(`the Docker engine cannot be reached: ${reason(err)}`);
      throw err;
    }
  }

  async endpoint(containerId: string, port: number): Promise<{ host: string; port: number } | null> {
    let h = this.hosts.get(containerId);
    if (!h) {
      const info = await this.reach(() => this.docker.getContainer(containerId).inspect());
      const nets = Object.values(info.NetworkSettings.Networks ?? {});
      const ip = info.HostConfig.NetworkMode === 'host' ? '127.0.0.1' : nets.find((n) => n.IPAddress)?.IPAddress || null;
      h = { ip, bindings: (info.NetworkSettings.Ports ?? {}) as Record<string, { HostPort: string }[] | null> };
      if (this.hosts.size > 10_000) this.hosts.clear();
      this.hosts.set(containerId, h);
    }
    if (h.ip) return { host: h.ip, port };
    // No address of its own (no bridge here): a published port on the loopback interface.
    const bound = h.bindings[`${port}/tcp`]?.[0]?.HostPort;
    return bound ? { host: '127.0.0.1', port: Number(bound) } : null;
  }

  async exec(containerId: string, command: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const ex = await this.reach(() => this.docker.getContainer(containerId).exec({ Cmd: command, AttachStdout: true, AttachStderr: true }));
    const stream = await this.reach(() => ex.start({ hijack: true, stdin: false }));
    const out = new PassThrough();
    let output = '';
    out.on('data', (b: Buffer) => {
      if (output.length < 4096) output += b.toString('utf8');
    });
    this.docker.modem.demuxStream(stream, out, out);
    const ended = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      stream.once('end', done);
      stream.once('close', done);
      stream.once('error', done);
    });
    if (!ended) {
      stream.destroy();
      return { exitCode: -1, output: `timed out after ${timeoutMs} ms` };
    }
    // A stream cut short by a dying dockerd ends too: then this fails as unreachable.
    const info = await this.reach(() => ex.inspect());
    return { exitCode: info.ExitCode ?? -1, output };
  }

  watch(onExit: (taskId: string, containerId: string, exitCode: number) => void): Promise<() => void> {
    return watchExits(this.docker, this.nodeId, onExit, this.opts.log ?? (() => undefined));
  }
}
