// The event stream sends what the contract says: every frame of GET /v1/events on a one-manager
// cluster (a leader, a registered node, a created service and its pending task) is a StoredEvent
// of src/api/events.ts, named by its id and its type. The response check of the test suite cannot
// see a stream, so this test reads the frames itself.
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { StoredEvent } from '../../src/api/events.js';
import { singleManager } from '../helpers/single-manager.js';

interface Frame {
  id: string;
  event: string;
  data: unknown;
}

function frames(text: string): Frame[] {
  return text
    .split('\n\n')
    .filter((f) => f.startsWith('id: '))
    .map((f) => {
      const line = (p: string) => f.split('\n').find((l) => l.startsWith(p))?.slice(p.length) ?? '';
      return { id: line('id: '), event: line('event: '), data: JSON.parse(line('data: ')) as unknown };
    });
}

t.test('every event of the stream is a StoredEvent of the contract', async (t) => {
  const m = await singleManager(t);
  const node = { id: '0123456789ab', name: 'n1', address: '127.0.0.1:1', labels: {}, capacity: { cpu: 1, memory: 1 << 30, disk: 1 << 30 } };
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/nodes/register', payload: node })).statusCode, 200, 'a node registers');
  const svc = { name: 'web', image: 'orch/busybox:latest', command: ['sleep', '3600'], replicas: 1, resources: { memory: '64MiB' } };
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: svc })).statusCode, 201, 'a service is created');
  const want = ['leader', 'node', 'service', 'task'];
  let seen: Frame[] = [];
  for (let k = 0; k < 250 && !want.every((w) => seen.some((f) => f.event === w)); k++) {
    seen = frames((await m.app.inject({ method: 'GET', url: '/v1/events' })).body);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.same([...new Set(seen.map((f) => f.event))].sort().filter((e) => want.includes(e)), want, `events of every kind were sent (${seen.map((f) => f.event).join(' ')})`);
  for (const f of seen) {
    const problems = [...Value.Errors(StoredEvent, f.data)].map((e) => `${e.path || '/'}: ${e.message}`);
    t.same(problems, [], `${f.id} (${f.event}) is a StoredEvent`);
    const e = f.data as { index: number; k: number; type: string };
    t.equal(f.id, `${e.index}-${e.k}`, `${f.id}: the frame's id is its index and place`);
    t.equal(f.event, e.type, `${f.id}: the frame's event is its type`);
  }
});
