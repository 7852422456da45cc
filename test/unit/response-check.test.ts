// The test-mode response check (src/manager/api/response-check.ts): an answer that does not match
// its route's response schema exactly is a 500 naming the field, where fastify's serializer would
// drop an unknown field or send a wrong type; a matching one passes unchanged.
import t from 'tap';
import Fastify from 'fastify';
import { Type } from '@sinclair/typebox';
import { installErrorHandler } from '../../src/manager/api/errors.js';
import { installResponseCheck } from '../../src/manager/api/response-check.js';

const Item = Type.Object({ name: Type.String(), size: Type.Integer(), tags: Type.Array(Type.Object({ k: Type.String() })), note: Type.Optional(Type.String()) });

async function appAnswering(body: unknown, status = 200) {
  const app = Fastify();
  installErrorHandler(app);
  installResponseCheck(app);
  app.get('/item', { schema: { response: { [status]: Item } } }, async (_req, reply) => reply.code(status).send(body));
  app.get('/free', async () => ({ anything: 1 }));
  await app.ready();
  t.teardown(() => app.close());
  return app;
}

t.test('a matching answer passes unchanged', async (t) => {
  const app = await appAnswering({ name: 'a', size: 1, tags: [{ k: 'x' }] });
  const res = await app.inject({ url: '/item' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { name: 'a', size: 1, tags: [{ k: 'x' }] });
  t.same((await app.inject({ url: '/free' })).json(), { anything: 1 }, 'a route without a response schema is not checked');
});

for (const [what, body, field] of [
  ['a field the schema lacks', { name: 'a', size: 1, tags: [], extra: true }, /\(extra\)/],
  ['a field the schema lacks, nested', { name: 'a', size: 1, tags: [{ k: 'x', v: 2 }] }, /\/tags\/0.*\(v\)/],
  ['a missing field', { name: 'a', tags: [] }, /size/],
  ['a mistyped field', { name: 'a', size: '1', tags: [] }, /\/size must be integer/],
] as const) {
  t.test(`${what}: 500 response-mismatch naming it`, async (t) => {
    const app = await appAnswering(body, 201);
    const res = await app.inject({ url: '/item' });
    t.equal(res.statusCode, 500);
    const err = (res.json() as { error: { code: string; message: string } }).error;
    t.equal(err.code, 'response-mismatch');
    t.match(err.message, /GET \/item \(201\) does not match its schema/);
    t.match(err.message, field);
  });
}
