// The Docker runtime (dockerode): one container per task, labelled so that a restarted worker can
// find its containers again, with Init (a fast, clean stop), the task's cpu and memory limits, env,
// command, network mode and port bindings. Exits come from Docker's event stream.
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import type { Runtime, RuntimeContainer, TaskToRun } from './runtime.js';

export function dockerFromHost(host: string | undefined): Docker {
  if (!host) return new Docker();
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  const u = new URL(host.replace(/^tcp:/, 'http:'));
  return new Docker({ host: u.hostname, port: Number(u.port || 2375), protocol: u.protocol === 'https:' ? 'https' : 'http' });
}

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

function reason(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

export class DockerRuntime implements Runtime {
  readonly checksHealth = true;
  /** Where each running container's ports are reached (an address does not change while it runs). */
  private readonly hosts = new Map<string, { ip: string | null; bindings: Record<string, { HostPort: string }[] | null> }>();
  /** Images a pull was already tried for: a missing image is looked for once, not in a storm. */
  private readonly pullFailed = new Map<string, string>();

  constructor(
    private readonly docker: Docker,
    private readonly nodeId: string,
    private readonly stopGraceSec = 10,
  ) {}

  async list(): Promise<RuntimeContainer[]> {
    const cs = await this.docker.listContainers({ all: true, filters: { label: [`orch.node=${this.nodeId}`] } });
    return cs.map((c) => ({
      containerId: c.Id,
      taskId: c.Labels['orch.task'],
      running: c.State === 'running',
      exitCode: c.State === 'exited' ? Number(/Exited \((-?\d+)\)/.exec(c.Status)?.[1] ?? NaN) : null,
    }));
  }

  private async ensureImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    const failed = this.pullFailed.get(image);
    if (failed) throw new Error(`image ${image} not found locally and could not be pulled: ${failed}`);
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve())));
    } catch (err) {
      this.pullFailed.set(image, reason(err));
      throw new Error(`image ${image} not found locally and could not be pulled: ${reason(err)}`);
    }
  }

  async start(task: TaskToRun): Promise<string> {
    const s = task.spec;
    await this.ensureImage(s.image);
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
      Labels: { 'orch.task': task.id, 'orch.service': task.serviceName, 'orch.slot': String(task.slot), 'orch.node': this.nodeId },
      ExposedPorts: exposed,
      HostConfig: {
        Init: true,
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

  async endpoint(containerId: string, port: number): Promise<{ host: string; port: number } | null> {
    let h = this.hosts.get(containerId);
    if (!h) {
      const info = await this.docker.getContainer(containerId).inspect();
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
    const ex = await this.docker.getContainer(containerId).exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({ hijack: true, stdin: false });
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
    const info = await ex.inspect();
    return { exitCode: info.ExitCode ?? -1, output };
  }

  async watch(onExit: (taskId: string, containerId: string, exitCode: number) => void): Promise<() => void> {
    const stream = (await this.docker.getEvents({ filters: { type: ['container'], event: ['die'], label: [`orch.node=${this.nodeId}`] } })) as NodeJS.ReadableStream & { destroy?: () => void };
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let k: number;
      while ((k = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, k).trim();
        buf = buf.slice(k + 1);
        if (!line) continue;
        try {
          const ev = JSON.parse(line) as { id: string; Actor?: { Attributes?: Record<string, string> } };
          const attrs = ev.Actor?.Attributes ?? {};
          if (attrs['orch.task']) onExit(attrs['orch.task'], ev.id, Number(attrs.exitCode ?? -1));
        } catch {
          // A partial or foreign line: ignore.
        }
      }
    });
    return () => stream.destroy?.();
  }
}
