// GET /ui: the dashboard, one self-contained page (no build step) served by every manager. It
// reads the public API of the manager it came from once a second: managers (role, term,
// commit/applied, reachable), nodes (status, availability, reserved and live cpu/memory),
// services (running/desired, update progress) and tasks. On a TLS cluster the page asks for an API
// token (or takes it from #token=... in the address; the fragment never reaches a server) and
// keeps it in the browser's localStorage.
import type { FastifyPluginAsync } from 'fastify';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>orch</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} h2{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e4e4e4;padding:4px 8px;text-align:left;white-space:nowrap}
th{background:#f0f0f0;font-weight:600}
.leader td:first-child::after{content:" ★ leader";color:#1a7f37;font-weight:600}
.bad{color:#b42318;font-weight:600} .ok{color:#1a7f37} .muted{color:#888}
#status{font-size:12px;color:#666} #auth{display:none;margin:8px 0}
.bar{display:inline-block;height:8px;background:#4c8bf5;vertical-align:middle}
.barbox{display:inline-block;width:80px;height:8px;background:#e8e8e8;margin-right:6px;vertical-align:middle}
</style></head><body>
<h1>orch</h1><div id="status">connecting…</div>
<form id="auth"><label>API token (orch up wrote it to .orch/cluster.json): <input id="token" size="90" autocomplete="off"></label> <button>use</button></form>
<h2>Managers</h2><table id="managers"><thead><tr><th>id</th><th>address</th><th>role</th><th>term</th><th>commit</th><th>applied</th><th>reachable</th></tr></thead><tbody></tbody></table>
<h2>Nodes</h2><table id="nodes"><thead><tr><th>name</th><th>id</th><th>status</th><th>availability</th><th>cpu reserved / live</th><th>memory reserved / live</th></tr></thead><tbody></tbody></table>
<h2>Services</h2><table id="services"><thead><tr><th>name</th><th>image</th><th>running / desired</th><th>state</th><th>update</th></tr></thead><tbody></tbody></table>
<h2>Tasks</h2><table id="tasks"><thead><tr><th>task</th><th>service</th><th>slot</th><th>node</th><th>desired</th><th>state</th><th>health</th><th>message</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const m = /[#&]token=([^&]+)/.exec(location.hash);
if (m) { localStorage.setItem("orch-token", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
let token = localStorage.getItem("orch-token") || "";
const $ = (s) => document.querySelector(s);
$("#auth").addEventListener("submit", (e) => { e.preventDefault(); token = $("#token").value.trim(); localStorage.setItem("orch-token", token); $("#auth").style.display = "none"; tick(); });
const esc = (v) => String(v ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const gib = (b) => (b / 2 ** 30).toFixed(1) + " GiB";
function bar(used, total) { const p = total > 0 ? Math.min(100, (100 * used) / total) : 0; return '<span class="barbox"><span class="bar" style="width:' + p.toFixed(0) + '%"></span></span>'; }
async function get(path) {
  const r = await fetch(path, { headers: token ? { authorization: "Bearer " + token } : {} });
  if (r.status === 401) { $("#auth").style.display = "block"; throw new Error("this cluster needs an API token"); }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
function rows(sel, items, f) { $(sel + " tbody").innerHTML = items.map(f).join(""); }
async function tick() {
  try {
    const [cluster, nodes, services, tasks] = await Promise.all([get("/v1/cluster"), get("/v1/nodes"), get("/v1/services"), get("/v1/tasks")]);
    rows("#managers", cluster.managers, (x) => '<tr data-id="' + x.id + '" data-role="' + esc(x.role) + '" class="' + (x.id === cluster.leader ? "leader" : "") + '"><td>' + x.id + "</td><td>" + esc(x.address) + "</td><td>" + esc(x.role) + "</td><td>" + x.term + "</td><td>" + x.commit + "</td><td>" + x.applied + '</td><td class="' + (x.reachable ? "ok" : "bad") + '">' + (x.reachable ? "yes" : "no") + "</td></tr>");
    rows("#nodes", nodes, (n) => '<tr data-name="' + esc(n.name) + '"><td>' + esc(n.name) + '</td><td class="muted">' + esc(n.id) + '</td><td class="' + (n.status === "ready" ? "ok" : "bad") + '">' + esc(n.status) + "</td><td>" + esc(n.availability) + "</td><td>" + bar(n.reserved.cpu, n.capacity.cpu) + n.reserved.cpu.toFixed(2) + " / " + (n.usage ? (n.usage.cpu * n.capacity.cpu).toFixed(2) : "–") + " of " + n.capacity.cpu + "</td><td>" + bar(n.reserved.memory, n.capacity.memory) + gib(n.reserved.memory) + " / " + (n.usage ? gib(n.usage.memory) : "–") + " of " + gib(n.capacity.memory) + "</td></tr>");
    rows("#services", services, (s) => '<tr data-name="' + esc(s.name) + '"><td>' + esc(s.name) + "</td><td>" + esc(s.spec.image) + '</td><td class="' + (s.running === s.desired ? "ok" : "bad") + '">' + s.running + " / " + s.desired + "</td><td>" + esc(s.state) + "</td><td>" + (s.update ? esc(s.update.state) + " " + s.update.done + "/" + s.update.total : "–") + "</td></tr>");
    rows("#tasks", tasks, (x) => '<tr data-service="' + esc(x.serviceName) + '" data-state="' + esc(x.state) + '"><td class="muted">' + esc(x.id.slice(0, 12)) + "</td><td>" + esc(x.serviceName) + "</td><td>" + x.slot + "</td><td>" + esc(x.nodeId ?? "–") + "</td><td>" + esc(x.desired) + "</td><td>" + esc(x.state) + "</td><td>" + esc(x.health ?? "–") + "</td><td>" + esc(x.error ?? x.reason ?? "") + "</td></tr>");
    $("#status").textContent = "updated " + new Date().toLocaleTimeString() + " from " + location.host + (cluster.leader ? ", leader: manager " + cluster.leader : ", no leader");
  } catch (e) {
    $("#status").textContent = "cannot read the cluster: " + e.message + " (retrying)";
  }
}
tick(); setInterval(tick, 1000);
</script></body></html>`;

export const uiRoutes: FastifyPluginAsync = async (app) => {
  // The page holds no data; it reads the API with the token the user gives it.
  app.get('/ui', { config: { access: 'open' } }, async (_req, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'").send(PAGE));
  app.get('/', { config: { access: 'open' } }, async (_req, reply) => reply.redirect('/ui'));
};
