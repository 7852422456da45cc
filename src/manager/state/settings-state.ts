// The cluster's policy settings in the replicated state, so that one policy holds whichever manager
// leads (a manager's own flags only seed them). Written first by the first leader of the cluster
// from its flags (settings.init; a later init is ignored, as security.init is), then changed by an
// admin (settings.update).
import type { ClusterSettings } from '../../api/cluster.js';

export type SettingsCommand =
  | { op: 'settings.init'; ts: number; settings: ClusterSettings }
  | { op: 'settings.update'; ts: number; allowPrivileged?: boolean; allowHostNetwork?: boolean };

export type SettingsResult = { ok: true; changed: boolean; settings: ClusterSettings };

/** What a cluster that was never seeded allows: nothing beyond the safe defaults. */
const DEFAULTS: ClusterSettings = { allowPrivileged: false, allowHostNetwork: true };

/** Settings as given, with what an earlier version did not write filled in. */
function complete(s: Partial<ClusterSettings>): ClusterSettings {
  return { allowPrivileged: s.allowPrivileged === true, allowHostNetwork: s.allowHostNetwork !== false };
}

export class SettingsState {
  /** null until the first leader seeded them. */
  settings: ClusterSettings | null = null;

  apply(cmd: SettingsCommand): SettingsResult {
    switch (cmd.op) {
      case 'settings.init':
        if (this.settings) return { ok: true, changed: false, settings: { ...this.settings } };
        this.settings = complete(cmd.settings);
        return { ok: true, changed: true, settings: { ...this.settings } };
      case 'settings.update': {
        const before = this.settings ?? DEFAULTS;
        this.settings = {
          ...before,
          ...(typeof cmd.allowPrivileged === 'boolean' ? { allowPrivileged: cmd.allowPrivileged } : {}),
          ...(typeof cmd.allowHostNetwork === 'boolean' ? { allowHostNetwork: cmd.allowHostNetwork } : {}),
        };
        return { ok: true, changed: this.settings.allowPrivileged !== before.allowPrivileged || this.settings.allowHostNetwork !== before.allowHostNetwork, settings: { ...this.settings } };
      }
    }
  }

  toJSON(): ClusterSettings | null {
    return this.settings;
  }

  restore(s: ClusterSettings | null | undefined): void {
    this.settings = s ? complete(s) : null;
  }
}
