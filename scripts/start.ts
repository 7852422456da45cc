// `npm start`: `orch up` (a local cluster in .orch), then the example service
// (examples/hello-web.yaml), waiting until it answers on its port; prints what to try next.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { up } from '../src/cli/commands/up.js';
import { withClient } from '../src/cli/client.js';
import { parseSpecText } from '../src/spec/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const URL_ = 'http://127.0.0.1:18080/';

const r = await up({ managers: 3, workers: 2, dir: '.orch', basePort: 7001 });
console.log(r.already ? 'the cluster in .orch was already up' : `cluster up: managers ${r.file.managers.join(',')}`);
await withClient({ manager: r.file.managers.join(','), token: r.file.token }, async (client) => {
  const specFile = join(ROOT, 'examples', 'hello-web.yaml');
  const svc = await client.createService(parseSpecText(readFileSync(specFile, 'utf8')));
  console.log(`service ${svc.name} started from examples/hello-web.yaml`);
  const end = Date.now() + 60_000;
  let body = '';
  while (Date.now() < end) {
    try {
      const res = await request(URL_, { headersTimeout: 1_000, bodyTimeout: 1_000 });
      body = await res.body.text();
      if (res.statusCode === 200) break;
    } catch {
      // not answering yet
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  if (!body) throw new Error(`${URL_} did not answer within 60 s; see "npx orch get hello-web" and .orch/logs`);
  console.log(`${URL_} answers: ${body.trim()}`);
  console.log(['', 'Next:', '  npx orch get hello-web       # the service, its task and health', '  npx orch list                # every task', '  npx orch events --follow     # what happens, as it commits', '  curl ' + URL_, '  npx orch down                # stop everything npm start started'].join('\n'));
});
