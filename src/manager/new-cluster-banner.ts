// What a manager prints once when it creates a TLS cluster: the API tokens and the join commands.
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import type { ManagerOptions } from './options.js';
import type { ManagerTls } from './tls-bootstrap.js';

/** Shows a new cluster's tokens once (and writes them to --tokens-file, 0600, when given). */
export function announceNewCluster(o: ManagerOptions, t: NonNullable<ManagerTls['created']>, clusterId: string): void {
  if (o.tokensFile) {
    // Whole or not at all: whoever waits for the file (a script, `orch up`) never reads half of it.
    const tmp = `${o.tokensFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ clusterId, caDigest: t.caDigest, admin: t.admin, readonly: t.readonly, worker: t.worker, manager: t.manager }, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, o.tokensFile);
  }
  (o.announce ?? ((text: string) => process.stdout.write(text)))(
    [
      `orch: created cluster ${clusterId}. These API tokens are shown only this once; keep them${o.tokensFile ? ` (also written to ${o.tokensFile}, mode 0600)` : ''}:`,
      `  admin token:      ${t.admin}`,
      `  read-only token:  ${t.readonly}`,
      `Join tokens (also shown by "orch token worker|manager"):`,
      `  workers:  ORCH_JOIN_TOKEN=${t.worker} orch worker --join ${o.advertise ?? o.listen} --name <name> --data-dir <dir>`,
      `  managers: ORCH_JOIN_TOKEN=${t.manager} orch manager --join ${o.advertise ?? o.listen} --listen <host:port> --data-dir <dir>`,
      '',
    ].join('\n'),
  );
}
