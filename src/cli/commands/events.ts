// `orch events [--follow] [--since ID] [--json]`: the cluster's events in log order, as they
// commit. Each line starts with the event's id (INDEX-K), which --since takes to resume.
import type { Command } from 'commander';
import type { ErrorBody } from '../../api/errors.js';
import type { StoredEvent } from '../../api/events.js';
import { connection, type ClientOpts } from '../client.js';

/** An event as sent; a newer manager may send a type this CLI does not know (printed as JSON). */
type Ev = StoredEvent | { index: number; k: number; ts: number; type: string; [key: string]: unknown };

export function describeEvent(e: Ev): string {
  const head = `${e.index}-${e.k}  ${new Date(e.ts).toISOString()}  ${e.type.padEnd(7)}`;
  switch (e.type) {
    case 'task':
      return `${head} ${e.service}.${e.slot} ${String(e.id).slice(0, 12)} ${e.from ?? '-'} -> ${e.to}${e.node ? ` on ${String(e.node)}` : ''}${e.error ? ` (${e.error})` : ''}`;
    case 'service':
      return `${head} ${e.name} ${e.action} (version ${e.version})`;
    case 'node':
      return `${head} ${e.name} (${e.id}) ${e.action}`;
    case 'leader':
      return `${head} manager ${e.id}${e.address ? ` (${e.address})` : ''} leads term ${e.term}`;
    default:
      return `${head} ${JSON.stringify(e)}`;
  }
}

export function eventsCommand(program: Command): void {
  program
    .command('events')
    .description('print the cluster\'s events (services, tasks, nodes, leaders) in log order')
    .option('--follow', 'keep printing events as they commit')
    .option('--since <id>', 'only events after this one (an id INDEX-K as printed, or a log index)')
    .option('--manager <addrs>', 'managers to talk to')
    .option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'one JSON object per line')
    .action(async (o: ClientOpts & { follow?: boolean; since?: string }) => {
      const { Agent, request } = await import('undici');
      const conn = await connection(o);
      const dispatcher = conn.tlsConnect ? new Agent({ connect: conn.tlsConnect }) : undefined;
      let since = o.since;
      let last = 'no manager answered';
      // A follower or leader lost mid-stream: resume from the last event seen, on the next manager.
      for (let attempt = 0; attempt < conn.managers.length * 3; attempt++) {
        const m = conn.managers[attempt % conn.managers.length];
        const q = new URLSearchParams();
        if (since !== undefined) q.set('since', since);
        if (o.follow) q.set('follow', 'true');
        let res;
        try {
          res = await request(`${conn.tlsConnect ? 'https' : 'http'}://${m}/v1/events?${q}`, { headers: conn.token ? { authorization: `Bearer ${conn.token}` } : {}, dispatcher, bodyTimeout: o.follow ? 0 : 30_000 });
        } catch (err) {
          last = `${m}: ${(err as Error).message}`;
          continue;
        }
        if (res.statusCode !== 200) {
          const body = (await res.body.json().catch(() => null)) as Partial<ErrorBody> | null;
          last = `${body?.error?.message ?? `HTTP ${res.statusCode}`} (${body?.error?.code ?? res.statusCode})`;
          if (res.statusCode !== 503) break;
          continue;
        }
        let buf = '';
        let dropped = '';
        try {
          for await (const chunk of res.body) {
            buf += (chunk as Buffer).toString('utf8');
            let cut;
            while ((cut = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, cut);
              buf = buf.slice(cut + 2);
              // A manager drops a follower that reads too slowly, saying why in a comment line.
              if (block.startsWith(': dropped: ')) dropped = block.slice(2);
              const data = block.split('\n').find((l) => l.startsWith('data: '));
              if (!data) continue;
              const e = JSON.parse(data.slice(6)) as Ev;
              since = `${e.index}-${e.k}`;
              console.log(o.json ? JSON.stringify(e) : describeEvent(e));
            }
          }
        } catch (err) {
          last = `${m}: ${(err as Error).message}`;
          continue;
        }
        if (!o.follow) return;
        last = dropped ? `${m}: ${dropped}` : `${m} closed the stream`;
      }
      throw new Error(last);
    });
}
