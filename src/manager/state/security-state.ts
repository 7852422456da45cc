// The cluster's secrets in the replicated state: its CA (certificate and key), the two join
// tokens' secrets, and the named API tokens (hashes only). Written by the first leader of a new
// cluster (security.init; a second init is ignored, so every manager may offer the same one) and
// changed by rotations and by creating and revoking API tokens. Like every state, applied from
// committed commands only.
import type { ApiRole, ApiTokenRecord, ClusterSecrets } from '../../api/tokens.js';
import { normalizeSecrets, tokenNameProblem } from '../../security/secrets.js';

export type SecurityCommand =
  | { op: 'security.init'; ts: number; secrets: ClusterSecrets }
  | { op: 'security.rotate'; ts: number; role: 'worker' | 'manager'; secret: string }
  | { op: 'security.token.create'; ts: number; name: string; role: ApiRole; hash: string }
  | { op: 'security.token.rotate'; ts: number; name: string; hash: string }
  | { op: 'security.token.revoke'; ts: number; name: string };

export type SecurityResult =
  | { ok: true; changed: boolean }
  | { ok: false; code: 'not-initialized' | 'token-exists' | 'token-not-found' | 'bad-token-name' | 'last-admin-token'; message: string };

export class SecurityState {
  secrets: ClusterSecrets | null = null;

  apply(cmd: SecurityCommand): SecurityResult {
    if (cmd.op === 'security.init') {
      if (this.secrets) return { ok: true, changed: false };
      this.secrets = normalizeSecrets(structuredClone(cmd.secrets), cmd.ts);
      return { ok: true, changed: true };
    }
    if (!this.secrets) return { ok: false, code: 'not-initialized', message: 'the cluster has no CA and no tokens (it runs with --insecure, or is not initialized yet)' };
    const s = this.secrets;
    switch (cmd.op) {
      case 'security.rotate':
        s.join[cmd.role] = cmd.secret;
        return { ok: true, changed: true };
      case 'security.token.create': {
        const problem = tokenNameProblem(cmd.name);
        if (problem) return { ok: false, code: 'bad-token-name', message: problem };
        if (s.api.some((t) => t.name === cmd.name)) return { ok: false, code: 'token-exists', message: `there is already an API token named ${cmd.name}; pick another name, or rotate that one` };
        s.api.push({ name: cmd.name, role: cmd.role, hash: cmd.hash, createdAt: cmd.ts });
        return { ok: true, changed: true };
      }
      case 'security.token.rotate': {
        const t = s.api.find((x) => x.name === cmd.name);
        if (!t) return notFound(cmd.name);
        t.hash = cmd.hash;
        t.rotatedAt = cmd.ts;
        return { ok: true, changed: true };
      }
      case 'security.token.revoke': {
        const t = s.api.find((x) => x.name === cmd.name);
        if (!t) return notFound(cmd.name);
        if (t.role === 'admin' && s.api.filter((x) => x.role === 'admin').length === 1) {
          return { ok: false, code: 'last-admin-token', message: `${cmd.name} is the cluster's last admin token: without one nobody could manage the cluster or make tokens again; create another admin token first, or rotate this one` };
        }
        s.api = s.api.filter((x) => x !== t);
        return { ok: true, changed: true };
      }
    }
  }

  toJSON(): ClusterSecrets | null {
    return this.secrets;
  }

  restore(s: ClusterSecrets | null | undefined): void {
    this.secrets = s ? normalizeSecrets(s) : null;
  }
}

function notFound(name: string): SecurityResult {
  return { ok: false, code: 'token-not-found', message: `no API token named ${name} ("orch token ls" lists them)` };
}
