// A 3-member etcd on loopback (Debian's etcd-server), the peer that orch's Raft is compared with.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { freePort } from '../../../test/helpers/cluster.js';

const exec = promisify(execFile);

export async function etcdAvailable(): Promise<boolean> {
  try {
    await exec('etcd', ['--version']);
    return true;
  } catch {
    return false;
  }
}

interface Member {
  name: string;
  client: string;
  peer: string;
  proc: ChildProcess | null;
  exited: Promise<void>;
}

export class EtcdCluster {
  private constructor(
    readonly dir: string,
    readonly members: Member[],
    private readonly args: string[],
  ) {}

  static async start(opts: { heartbeatMs?: number; electionMs?: number } = {}): Promise<EtcdCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'orch-etcd-'));
    const members: Member[] = [];
    for (let k = 1; k <= 3; k++) {
      members.push({ name: `m${k}`, client: `http://127.0.0.1:${await freePort()}`, peer: `http://127.0.0.1:${await freePort()}`, proc: null, exited: Promise.resolve() });
    }
    const args = ['--heartbeat-interval', String(opts.heartbeatMs ?? 100), '--election-timeout', String(opts.electionMs ?? 1000)];
    const c = new EtcdCluster(dir, members, args);
    for (let k = 0; k < 3; k++) c.spawn(k, 'new');
    await c.waitHealthy();
    return c;
  }

  spawn(k: number, state: 'new' | 'existing'): void {
    const m = this.members[k];
    const initial = this.members.map((x) => `${x.name}=${x.peer}`).join(',');
    const p = spawn(
      'etcd',
      [
        '--name', m.name, '--data-dir', join(this.dir, m.name),
        '--listen-client-urls', m.client, '--advertise-client-urls', m.client,
        '--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer,
        '--initial-cluster', initial, '--initial-cluster-token', 'orch-bench', '--initial-cluster-state', state,
        '--logger', 'zap', '--log-level', 'error', ...this.args,
      ],
      { stdio: 'ignore' },
    );
    m.proc = p;
    m.exited = new Promise((r) => p.once('exit', () => r()));
  }

  async status(k: number): Promise<{ leader: string; memberId: string } | null> {
    try {
      const res = await request(`${this.members[k].client}/v3/maintenance/status`, { method: 'POST', body: '{}', headersTimeout: 500, bodyTimeout: 500, signal: AbortSignal.timeout(800) });
      const j = (await res.body.json()) as { leader?: string; header?: { member_id?: string } };
      if (!j.leader || !j.header?.member_id) return null;
      return { leader: j.leader, memberId: j.header.member_id };
    } catch {
      return null;
    }
  }

  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = await this.status(0);
      if (s && s.leader !== '0') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('etcd did not elect a leader in time');
  }

  /** The index of the leader among the members, by asking the live ones. */
  async leaderIndex(among = [0, 1, 2]): Promise<number> {
    for (let tries = 0; tries < 200; tries++) {
      for (const k of among) {
        const s = await this.status(k);
        if (s && s.leader === s.memberId) return k;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('etcd has no leader');
  }

  async leaderClientUrl(): Promise<string> {
    return this.members[await this.leaderIndex()].client;
  }

  async kill(k: number): Promise<void> {
    this.members[k].proc?.kill('SIGKILL');
    await this.members[k].exited;
  }

  async stop(): Promise<void> {
    for (const m of this.members) m.proc?.kill('SIGTERM');
    await Promise.all(this.members.map((m) => m.exited));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
