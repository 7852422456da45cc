// The dashboard in a real browser (playwright-core driving Debian's chromium, headless): opened on
// a follower of a TLS cluster with a worker, it shows the three managers with the leader marked,
// a service started with the CLI appears with its tasks running, and after the leader is killed
// the page recovers and marks the new one. Screenshots go to test-artifacts/.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ORCH_BIN, ProcessCluster, REPO_ROOT } from '../helpers/cluster.js';

const CHROMIUM = process.env.ORCH_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

t.test('the dashboard on a follower: managers, a service\'s tasks, and a new leader after a kill', async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does) or set ORCH_CHROMIUM`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const c = await ProcessCluster.start({ secure: true, managers: 3 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
  t.teardown(async () => {
    await browser.close();
    await c.stop();
  });
  const { index: li, status } = await c.waitForLeader(30_000);
  c.startWorker('w1', '', 500, ['--runtime', 'sim']);
  const follower = c.managers.findIndex((_, k) => k !== li);
  const tokens = c.tokens();
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  await page.goto(`https://${c.addresses[follower]}/ui#token=${tokens.admin}`);

  await page.waitForFunction(() => document.querySelectorAll('#managers tbody tr').length === 3, null, { timeout: 15_000 });
  await page.waitForSelector(`#managers tr.leader[data-id="${status.id}"]`, { timeout: 15_000 });
  t.equal(await page.locator('#managers tr.leader').count(), 1, 'one manager is marked leader');
  t.equal(await page.locator('#managers tr.leader').getAttribute('data-id'), String(status.id), `and it is the leader (manager ${status.id})`);
  await page.waitForSelector('#nodes tr[data-name="w1"]', { timeout: 20_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'ui-1-managers.png'), fullPage: true });

  const run = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [ORCH_BIN, 'run', 'anything:latest', '--name', 'uiweb', '--replicas', '2', '--manager', c.addresses.join(',')], { env: { ...process.env, ORCH_TOKEN: tokens.admin } }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr })),
  );
  t.equal(run.code, 0, `orch run started the service: ${run.out.trim()}`);
  await page.waitForFunction(() => document.querySelectorAll('#tasks tr[data-service="uiweb"][data-state="running"]').length === 2, null, { timeout: 20_000 });
  t.equal(await page.locator('#tasks tr[data-service="uiweb"][data-state="running"]').count(), 2, 'its two tasks appear as running');
  t.match(await page.locator('#services tr[data-name="uiweb"]').innerText(), /2 \/ 2/, 'the service shows 2 / 2 running');
  await page.screenshot({ path: join(ARTIFACTS, 'ui-2-tasks.png'), fullPage: true });

  await c.kill(li);
  const next = await c.waitForLeader(15_000, c.managers.map((_, k) => k).filter((k) => k !== li));
  await page.waitForSelector(`#managers tr.leader[data-id="${next.status.id}"]`, { timeout: 15_000 });
  t.not(next.status.id, status.id, 'a new leader was elected');
  t.equal(await page.locator('#managers tr.leader').getAttribute('data-id'), String(next.status.id), `the page marks the new leader (manager ${next.status.id})`);
  t.match(await page.locator(`#managers tr[data-id="${status.id}"]`).innerText(), /no$/, 'and the killed one as unreachable');
  await page.screenshot({ path: join(ARTIFACTS, 'ui-3-new-leader.png'), fullPage: true });
});
