// The cluster's policy settings in the replicated state, so that one policy holds whichever manager
// leads (a manager's own flags only seed them). Written first by the first leader of the cluster
// from its flags (settings.init; a later init is ignored, as security.init is), then changed by an
// admin (settings.update).
export interface ClusterSettings {
  /** Whether specs may ask for privileged mode, extra capabilities or host paths. */
  allowPrivileged: boolean;
}

export type SettingsCommand =
  | { op: 'settings.init'; ts: number; settings: ClusterSettings }
  | { op: 'settings.update'; ts: number; allowPrivileged?: boolean };

export type SettingsResult = { ok: true; changed: boolean; settings: ClusterSettings };

/** What a cluster that was never seeded allows: nothing beyond the safe defaults. */
const DEFAULTS: ClusterSettings = { allowPrivileged: false };

export class SettingsState {
  /** null until the first leader seeded them. */
  settings: ClusterSettings | null = null;

  apply(cmd: SettingsCommand): SettingsResult {
    switch (cmd.op) {
      case 'settings.init':
        if (this.settings) return { ok: true, changed: false, settings: { ...this.settings } };
        this.settings = { allowPrivileged: cmd.settings.allowPrivileged === true };
        return { ok: true, changed: true, settings: { ...this.settings } };
      case 'settings.update': {
        const before = this.settings ?? DEFAULTS;
        this.settings = { ...before, ...(typeof cmd.allowPrivileged === 'boolean' ? { allowPrivileged: cmd.allowPrivileged } : {}) };
        return { ok: true, changed: this.settings.allowPrivileged !== before.allowPrivileged, settings: { ...this.settings } };
      }
    }
  }

  toJSON(): ClusterSettings | null {
    return this.settings;
  }

  restore(s: ClusterSettings | null | undefined): void {
    this.settings = s ? { allowPrivileged: s.allowPrivileged === true } : null;
  }
}
