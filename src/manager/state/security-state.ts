// The cluster's secrets in the replicated state: its CA (certificate and key), the two join
// tokens' secrets, and the hashes of the API tokens. Written once by the first leader of a new
// cluster (security.init; a second init is ignored, so every manager may offer the same one) and
// changed only by a rotation. Like every state, applied from committed commands only.
export interface ClusterSecrets {
  clusterId: string;
  ca: { certPem: string; keyPem: string };
  /** The secret halves of the join tokens, by the role they grant. */
  join: { worker: string; manager: string };
  /** SHA-256 (hex) of the API tokens' secrets: the tokens themselves are printed once, never kept. */
  api: { admin: string[]; readonly: string[] };
}

export type SecurityCommand =
  | { op: 'security.init'; ts: number; secrets: ClusterSecrets }
  | { op: 'security.rotate'; ts: number; role: 'worker' | 'manager'; secret: string };

export type SecurityResult = { ok: true; changed: boolean } | { ok: false; code: 'not-initialized'; message: string };

export class SecurityState {
  secrets: ClusterSecrets | null = null;

  apply(cmd: SecurityCommand): SecurityResult {
    switch (cmd.op) {
      case 'security.init':
        if (this.secrets) return { ok: true, changed: false };
        this.secrets = structuredClone(cmd.secrets);
        return { ok: true, changed: true };
      case 'security.rotate':
        if (!this.secrets) return { ok: false, code: 'not-initialized', message: 'the cluster has no join tokens (it runs with --insecure, or is not initialized yet)' };
        this.secrets.join[cmd.role] = cmd.secret;
        return { ok: true, changed: true };
    }
  }

  toJSON(): ClusterSecrets | null {
    return this.secrets;
  }

  restore(s: ClusterSecrets | null | undefined): void {
    this.secrets = s ?? null;
  }
}
