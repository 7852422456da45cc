// From what a person wrote to a ServiceSpec: parse JSON or YAML, check it against the schema, turn
// units into numbers, fill in defaults. Every refusal names the field and says what was expected,
// e.g. `replicas: expected an integer from 0 to 10000, got "three"`; unknown fields are refused.
import { Kind, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { DEFAULT_PIDS_LIMIT, SpecInputSchema, type Constraint, type ServiceSpec, type SpecInput } from './schema.js';
import { parseBytes, parseCpu, parseDuration } from './units.js';

export interface SpecIssue {
  path: string;
  message: string;
}

export class SpecError extends Error {
  constructor(readonly issues: SpecIssue[]) {
    super(issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '));
  }
}

/** Parses the text of a spec file; YAML is a superset of JSON, but JSON errors read better as JSON. */
export function parseSpecText(text: string, format: 'json' | 'yaml' | 'auto' = 'auto'): unknown {
  const looksJson = format === 'json' || (format === 'auto' && /^\s*[{[]/.test(text));
  if (looksJson) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new SpecError([{ path: '', message: `not valid JSON: ${(err as Error).message}` }]);
    }
  }
  try {
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0] : (err as Error).message;
    throw new SpecError([{ path: '', message: `not valid YAML: ${msg}` }]);
  }
}

/** "ports[0].host" from "/ports/0/host". */
function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** What a schema accepts, in words. */
function describe(s: TSchema): string {
  if (typeof s.description === 'string') return s.description;
  switch (s[Kind]) {
    case 'Integer': {
      const lo = s.minimum as number | undefined;
      const hi = s.maximum as number | undefined;
      if (lo !== undefined && hi !== undefined) return `an integer from ${lo} to ${hi}`;
      if (lo !== undefined) return `an integer >= ${lo}`;
      return 'an integer';
    }
    case 'Number':
      return s.minimum !== undefined ? `a number >= ${s.minimum}` : 'a number';
    case 'String': {
      const parts: string[] = [];
      if (s.minLength) parts.push(`at least ${s.minLength}`);
      if (s.maxLength) parts.push(`at most ${s.maxLength}`);
      const len = parts.length ? ` of ${parts.join(' and ')} characters` : '';
      return s.pattern ? `a string${len} matching ${s.pattern}` : `a string${len}`;
    }
    case 'Literal':
      return JSON.stringify(s.const);
    case 'Union': {
      const lits = (s.anyOf as TSchema[]).filter((x) => x[Kind] === 'Literal');
      if (lits.length === (s.anyOf as TSchema[]).length) return `one of ${lits.map((x) => String(x.const)).join(', ')}`;
      return (s.anyOf as TSchema[]).map(describe).join(' or ');
    }
    case 'Array':
      return s.maxItems !== undefined ? `a list of at most ${s.maxItems} items` : 'a list';
    case 'Record':
      return 'a map of names to strings';
    case 'Object':
      return 'an object';
    case 'Boolean':
      return 'true or false';
    default:
      return 'a valid value';
  }
}

function schemaIssues(input: unknown): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(SpecInputSchema, input)) {
    const path = fieldPath(e.path);
    if (seen.has(path)) continue;
    // An error inside a reported field says nothing new.
    if ([...seen].some((p) => p !== '' && (path.startsWith(p + '.') || path.startsWith(p + '[')))) continue;
    seen.add(path);
    if (e.type === ValueErrorType.ObjectAdditionalProperties || e.message === 'Unexpected property') {
      issues.push({ path, message: 'unknown field' });
    } else if (e.type === ValueErrorType.ObjectRequiredProperty) {
      issues.push({ path, message: `is required (${describe(e.schema)})` });
    } else if (path === '' && (typeof input !== 'object' || input === null || Array.isArray(input))) {
      issues.push({ path: '', message: `a spec must be an object with at least name and image, got ${show(input)}` });
    } else {
      issues.push({ path, message: `expected ${describe(e.schema)}, got ${show(e.value)}` });
    }
  }
  return issues;
}

const CONSTRAINT = /^\s*node\.(name|id|labels\.([A-Za-z0-9._/-]+))\s*(==|!=)\s*(\S(?:.*\S)?)\s*$/;

export function parseConstraint(s: string): Constraint | null {
  const m = CONSTRAINT.exec(s);
  if (!m) return null;
  const field = m[1] === 'name' ? 'name' : m[1] === 'id' ? 'id' : 'label';
  return { field, ...(field === 'label' ? { label: m[2] } : {}), op: m[3] as '==' | '!=', value: m[4] };
}

/** Validates and normalizes a spec; throws SpecError listing every problem found. */
export function normalizeSpec(input: unknown): ServiceSpec {
  const issues = schemaIssues(input);
  if (issues.length) throw new SpecError(issues);
  const s = input as SpecInput;
  const unit = <T>(path: string, v: unknown, parse: (v: unknown) => T | null, what: string, dflt: T): T => {
    if (v === undefined) return dflt;
    const n = parse(v);
    if (n === null) issues.push({ path, message: `expected ${what}, got ${show(v)}` });
    return n ?? dflt;
  };
  const size = 'a size like 64MiB, 1.5GiB or a number of bytes';
  const duration = 'a duration like 500ms, 5s or 1m';
  const resources = {
    cpu: unit('resources.cpu', s.resources?.cpu, parseCpu, 'a number of cpus like 0.5', 0),
    memory: unit('resources.memory', s.resources?.memory, parseBytes, size, 0),
    disk: unit('resources.disk', s.resources?.disk, parseBytes, size, 0),
    pids: s.resources?.pids ?? DEFAULT_PIDS_LIMIT,
  };
  if (resources.cpu > 1024) issues.push({ path: 'resources.cpu', message: `expected at most 1024 cpus, got ${resources.cpu}` });
  const network = s.network ?? 'bridge';
  const ports = (s.ports ?? []).map((p) => ({ container: p.container, host: p.host ?? p.container, protocol: p.protocol ?? 'tcp' }));
  if (network === 'none' && ports.length > 0) issues.push({ path: 'ports', message: 'a service with network none cannot publish ports' });
  ports.forEach((p, k) => {
    if (network === 'host' && p.host !== p.container) issues.push({ path: `ports[${k}]`, message: `with network host a port is published as itself: host ${p.host} must equal container ${p.container}` });
    const dup = ports.findIndex((q) => q.host === p.host && q.protocol === p.protocol);
    if (dup < k) issues.push({ path: `ports[${k}].host`, message: `host port ${p.host}/${p.protocol} is already used by ports[${dup}]` });
  });
  const restart = {
    policy: s.restart?.policy ?? 'always',
    maxAttempts: s.restart?.maxAttempts ?? 0,
    delayMs: unit('restart.delay', s.restart?.delay, parseDuration, duration, 1000),
  };
  let healthCheck: ServiceSpec['healthCheck'] = null;
  if (s.healthCheck) {
    const h = s.healthCheck;
    const kinds = [h.http, h.tcp, h.exec].filter(Boolean).length;
    if (kinds !== 1) issues.push({ path: 'healthCheck', message: `expected exactly one of http, tcp or exec, got ${kinds}` });
    healthCheck = {
      http: h.http ? { port: h.http.port, path: h.http.path ?? '/' } : null,
      tcp: h.tcp ? { port: h.tcp.port } : null,
      exec: h.exec ? { command: h.exec.command } : null,
      intervalMs: unit('healthCheck.interval', h.interval, parseDuration, duration, 5000),
      timeoutMs: unit('healthCheck.timeout', h.timeout, parseDuration, duration, 2000),
      retries: h.retries ?? 3,
      startPeriodMs: unit('healthCheck.startPeriod', h.startPeriod, parseDuration, duration, 0),
    };
    if (healthCheck.intervalMs < 100) issues.push({ path: 'healthCheck.interval', message: `expected at least 100ms, got ${show(h.interval)}` });
  }
  (s.mounts ?? []).forEach((m, k) => {
    if (m.target === '/') issues.push({ path: `mounts[${k}].target`, message: 'cannot mount over the container\'s root' });
  });
  const constraints: Constraint[] = [];
  (s.constraints ?? []).forEach((c, k) => {
    const parsed = parseConstraint(c);
    if (parsed) constraints.push(parsed);
    else issues.push({ path: `constraints[${k}]`, message: `expected node.name, node.id or node.labels.KEY followed by == or != and a value, got ${show(c)}` });
  });
  const update = {
    parallelism: s.update?.parallelism ?? 1,
    monitorMs: unit('update.monitor', s.update?.monitor, parseDuration, duration, 5000),
    failureAction: s.update?.failureAction ?? 'pause',
  };
  if (issues.length) throw new SpecError(issues);
  return {
    name: s.name,
    image: s.image,
    command: s.command ?? [],
    replicas: s.replicas ?? 1,
    resources,
    env: s.env ?? {},
    network,
    ports,
    restart,
    privileged: s.privileged ?? false,
    capAdd: (s.capAdd ?? []).map((c) => c.replace(/^CAP_/, '')),
    mounts: (s.mounts ?? []).map((m) => ({ source: m.source, target: m.target, readOnly: m.readOnly ?? false })),
    healthCheck,
    constraints,
    placement: s.placement ?? null,
    update,
  };
}

/** Keys sorted, so that equal specs serialize equally (a changed spec is a changed string). */
export function canonicalSpec(spec: ServiceSpec): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    return v;
  };
  return JSON.stringify(sort(spec));
}

/** A spec stored by an older version, with the fields added since filled with their defaults. */
export function upgradeSpec(spec: ServiceSpec): ServiceSpec {
  return {
    ...spec,
    resources: { ...spec.resources, pids: spec.resources.pids ?? DEFAULT_PIDS_LIMIT },
    privileged: spec.privileged ?? false,
    capAdd: spec.capAdd ?? [],
    mounts: spec.mounts ?? [],
  };
}
