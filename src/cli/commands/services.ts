// Services and tasks from the command line: start, run, stop, scale, list, get, nodes.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ApiRequestError, type OrchClient, type ServiceInfo, type TaskInfo } from '../../client/client.js';
import { formatBytes } from '../../spec/units.js';
import { durationOption, updateLine, waitService } from '../progress.js';
import { connection, withClient, type ClientOpts } from '../client.js';
import { printJson, printTable } from '../output.js';
import { collect, intOption } from '../parse.js';

function age(ts: number): string {
  const s = Math.max(0, Math.round((Date.now() - ts) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

function short(id: string | null): string | null {
  return id ? id.slice(0, 12) : null;
}

function printService(s: ServiceInfo, verb: string, json: boolean): void {
  if (json) printJson(s);
  else console.log(`service ${s.name} ${verb} (id ${s.id}, version ${s.version}, ${s.desired} replicas)`);
}

export function serviceCommands(program: Command): void {
  const common = (cmd: Command) => cmd.option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)').option('--json', 'machine-readable output');

  common(
    program
      .command('start <spec>')
      .description('create or update a service from a spec file (JSON or YAML)')
      .option('--wait', 'wait until all replicas run')
      .option('--timeout <duration>', 'how long --wait waits', durationOption('--timeout'), 60_000),
  ).action(async (file: string, o: ClientOpts & { wait?: boolean; timeout: number }) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    // Loaded here, not with the CLI: the spec's schema and YAML parser are the heaviest imports, and
    // only this command reads a spec file.
    const { parseSpecText, SpecError } = await import('../../spec/normalize.js');
    let spec: unknown;
    try {
      spec = parseSpecText(text, /\.json$/i.test(file) ? 'json' : /\.ya?ml$/i.test(file) ? 'yaml' : 'auto');
    } catch (err) {
      if (err instanceof SpecError) throw new Error(`${file}: ${err.message}`);
      throw err;
    }
    await withClient(o, async (c) => {
      const before = await c.services().then((l) => l.find((s) => s.name === (spec as { name?: string }).name));
      const s = await c.createService(spec);
      printService(s, !before ? 'created' : s.version === before.version && before.state === s.state ? 'unchanged' : 'updated', !!o.json);
      if (o.wait) await waitService(c, s.name, o.timeout, !!o.json);
    });
  });

  common(
    program
      .command('run <image> [command...]')
      .description('run an image as a service')
      .requiredOption('--name <name>', 'the service name')
      .option('--replicas <n>', 'number of tasks', intOption('--replicas'), 1)
      .option('--cpu <cpus>', 'cpus reserved per task (e.g. 0.5)')
      .option('--memory <size>', 'memory reserved per task (e.g. 64MiB)')
      .option('--network <mode>', 'host, bridge or none')
      .option('-p, --publish <host:container>', 'publish a port (repeatable)', collect, [])
      .option('-e, --env <K=V>', 'set an environment variable (repeatable)', collect, [])
      .option('--wait', 'wait until all replicas run')
      .option('--timeout <duration>', 'how long --wait waits', durationOption('--timeout'), 60_000),
  ).action(async (image: string, command: string[], o: ClientOpts & { name: string; replicas: number; cpu?: string; memory?: string; network?: string; publish: string[]; env: string[]; wait?: boolean; timeout: number }) => {
    const env: Record<string, string> = {};
    for (const kv of o.env) {
      const k = kv.indexOf('=');
      if (k <= 0) throw new Error(`--env: expected NAME=value, got ${JSON.stringify(kv)}`);
      env[kv.slice(0, k)] = kv.slice(k + 1);
    }
    const ports = o.publish.map((p) => {
      const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(p);
      if (!m) throw new Error(`--publish: expected HOST:CONTAINER[/tcp|udp], got ${JSON.stringify(p)}`);
      return { container: Number(m[2]), host: Number(m[1] ?? m[2]), ...(m[3] ? { protocol: m[3] } : {}) };
    });
    const spec = {
      name: o.name,
      image,
      ...(command.length ? { command } : {}),
      replicas: o.replicas,
      ...(o.cpu || o.memory ? { resources: { ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.memory ? { memory: o.memory } : {}) } } : {}),
      ...(o.network ? { network: o.network } : {}),
      ...(ports.length ? { ports } : {}),
      ...(o.env.length ? { env } : {}),
    };
    await withClient(o, async (c) => {
      const s = await c.createService(spec);
      printService(s, s.version === 1 ? 'created' : 'updated', !!o.json);
      if (o.wait) await waitService(c, s.name, o.timeout, !!o.json);
    });
  });

  common(program.command('stop <serviceOrTask>').description('stop a service (all its tasks) or one task (it is replaced)')).action(async (target: string, o: ClientOpts) => {
    await withClient(o, async (c) => {
      try {
        const s = await c.stopService(target);
        if (o.json) printJson(s);
        else console.log(`service ${s.name} stopped`);
      } catch (err) {
        if (!(err instanceof ApiRequestError) || err.status !== 404) throw err;
        const t = await c.stopTask(target).catch((e: unknown) => {
          if (e instanceof ApiRequestError && e.status === 404) throw new Error(`no service or task named ${target}`);
          throw e;
        });
        if (o.json) printJson(t);
        else console.log(`task ${t.id} of ${t.serviceName} stopped`);
      }
    });
  });

  common(program.command('scale <service> <replicas>').description('change the number of replicas')).action(async (name: string, n: string, o: ClientOpts) => {
    const replicas = intOption('replicas')(n);
    await withClient(o, async (c) => printService(await c.patchService(name, { replicas }), `scaled to ${replicas}`, !!o.json));
  });

  common(
    program
      .command('list')
      .description('list tasks')
      .option('--all', 'include finished tasks')
      .option('--service <name>', 'only this service\'s tasks'),
  ).action(async (o: ClientOpts & { all?: boolean; service?: string }) => {
    const tasks = await withClient(o, (c) => c.tasks({ service: o.service, all: o.all }));
    if (o.json) return printJson(tasks);
    printTable(['ID', 'SERVICE', 'SLOT', 'NODE', 'DESIRED', 'STATE', 'CONTAINER', 'AGE', 'MESSAGE'], tasks.map(taskRow));
  });

  common(program.command('get <serviceOrTask>').description('show a service with its tasks, or one task')).action(async (target: string, o: ClientOpts) => {
    await withClient(o, async (c) => {
      let s: (ServiceInfo & { tasks: TaskInfo[] }) | null = null;
      try {
        s = await c.service(target);
      } catch (err) {
        if (!(err instanceof ApiRequestError) || err.status !== 404) throw err;
      }
      if (!s) {
        const t = await c.task(target).catch((e: unknown) => {
          if (e instanceof ApiRequestError && e.status === 404) throw new Error(`no service or task named ${target}`);
          throw e;
        });
        return o.json ? printJson(t) : printTable(['FIELD', 'VALUE'], Object.entries(t).map(([k, v]) => [k, v === null ? null : String(v)]));
      }
      if (o.json) return printJson(s);
      const spec = s.spec;
      console.log(`service ${s.name} (id ${s.id}), version ${s.version}, ${s.state}`);
      console.log(`  image ${spec.image}${spec.command.length ? ` ${JSON.stringify(spec.command)}` : ''}`);
      console.log(`  replicas ${s.running}/${s.desired} running; reserves ${spec.resources.cpu} cpu, ${formatBytes(spec.resources.memory)} per task`);
      const u = updateLine(s);
      if (u) console.log(`  ${u}`);
      // Every slot with its history, newest first (the last few finished tasks are kept).
      const tasks = [...s.tasks].sort((a, b) => a.slot - b.slot || b.createdAt - a.createdAt);
      printTable(['ID', 'SLOT', 'VERSION', 'NODE', 'DESIRED', 'STATE', 'HEALTH', 'CONTAINER', 'AGE', 'MESSAGE'], tasks.map((t) => [short(t.id), t.slot, t.version, t.nodeId, t.desired, t.state, t.health, short(t.containerId), age(t.updatedAt), message(t)]));
    });
  });

  program
    .command('logs <task>')
    .description('print a task\'s container output, relayed by a manager from its worker')
    .option('--follow', 'keep printing new output')
    .option('--tail <n>', 'only the last n lines', intOption('--tail'))
    .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .action(async (task: string, o: ClientOpts & { follow?: boolean; tail?: number }) => {
      const { Agent, request } = await import('undici');
      const q = new URLSearchParams();
      if (o.follow) q.set('follow', 'true');
      if (o.tail !== undefined) q.set('tail', String(o.tail));
      const conn = await connection(o);
      const dispatcher = conn.tlsConnect ? new Agent({ connect: conn.tlsConnect }) : undefined;
      const headers: Record<string, string> = conn.token ? { authorization: `Bearer ${conn.token}` } : {};
      let last = 'no manager answered';
      for (const m of conn.managers) {
        let res;
        try {
          res = await request(`${conn.tlsConnect ? 'https' : 'http'}://${m}/v1/tasks/${encodeURIComponent(task)}/logs?${q}`, { headers, dispatcher, bodyTimeout: o.follow ? 0 : 30_000 });
        } catch (err) {
          last = `${m}: ${(err as Error).message}`;
          continue;
        }
        if (res.statusCode === 200) {
          for await (const chunk of res.body) process.stdout.write(chunk as Buffer);
          return;
        }
        const body = (await res.body.json().catch(() => null)) as { error?: { message?: string; code?: string } } | null;
        last = `${body?.error?.message ?? `HTTP ${res.statusCode}`} (${body?.error?.code ?? res.statusCode})`;
        if (res.statusCode !== 503) break;
      }
      throw new Error(last);
    });

  common(program.command('nodes').description('list the worker nodes')).action(async (o: ClientOpts) => {
    const nodes = await withClient(o, (c) => c.nodes());
    if (o.json) return printJson(nodes);
    printTable(
      ['ID', 'NAME', 'ADDRESS', 'STATUS', 'AVAILABILITY', 'CPU', 'MEMORY', 'LABELS'],
      nodes.map((n) => [n.id, n.name, n.address, n.status, n.availability, n.capacity.cpu, formatBytes(n.capacity.memory), Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',')]),
    );
  });
}

function message(t: TaskInfo): string | null {
  return t.error ?? (t.state === 'pending' ? t.reason : null);
}

function taskRow(t: TaskInfo): (string | number | null)[] {
  return [short(t.id), t.serviceName, t.slot, t.nodeId, t.desired, t.state, short(t.containerId), age(t.updatedAt), message(t)];
}
