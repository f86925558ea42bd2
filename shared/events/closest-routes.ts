/**
 * Why an event matched no rule: the routes of shared/events/patterns.ts that came closest, and the
 * fields where they differ. Also the one renaming the local CLI does before routing: an event that
 * names another stage's resources (`flywheel-dev-…` jobs and workgroups) is read with this stage's.
 */
import { matches, s3RecordAsObjectCreated, SCHEDULES, type EventPattern, type Route, type RouteParams, type S3NotificationRecord } from './patterns.js';

type Leaf = EventPattern[string] & unknown[];

/** One field of a route's pattern that the event does not satisfy. */
export interface FieldMiss {
  /** Dotted path of the field, e.g. `detail.jobName`. */
  path: string;
  /** The values the pattern accepts there. */
  expected: Leaf;
  /** What the event holds there (undefined when the field is missing). */
  actual: unknown;
}

/** How close a route came: `detail` = same source and detail-type, other fields differ; `detail-type` = same source only; `source` = not even that. */
export type Closeness = 'detail' | 'detail-type' | 'source';

export interface RouteMiss {
  route: Route;
  closeness: Closeness;
  misses: FieldMiss[];
}

/** Every field of `pattern` that `event` does not satisfy (paths relative to the event). */
export function fieldMisses(pattern: EventPattern, event: unknown, prefix = ''): FieldMiss[] {
  const record = typeof event === 'object' && event !== null && !Array.isArray(event) ? (event as Record<string, unknown>) : {};
  const out: FieldMiss[] = [];
  for (const [field, expected] of Object.entries(pattern)) {
    const path = prefix ? `${prefix}.${field}` : field;
    if (Array.isArray(expected)) {
      if (!matches({ [field]: expected }, record)) out.push({ path, expected: expected as Leaf, actual: record[field] });
    } else {
      out.push(...fieldMisses(expected, record[field], path));
    }
  }
  return out;
}

const RANK: Record<Closeness, number> = { detail: 0, 'detail-type': 1, source: 2 };

/** The routes `event` misses, closest first (same source and detail-type, then same source, then the rest); matching routes are left out. */
export function closestRoutes(routes: Route[], event: unknown): RouteMiss[] {
  return routes
    .map((route) => {
      const misses = fieldMisses(route.pattern, event);
      const closeness: Closeness = misses.some((m) => m.path === 'source') ? 'source' : misses.some((m) => m.path === 'detail-type') ? 'detail-type' : 'detail';
      return { route, closeness, misses };
    })
    .filter((m) => m.misses.length > 0)
    .sort((a, b) => RANK[a.closeness] - RANK[b.closeness] || a.misses.length - b.misses.length);
}

/**
 * One line saying why `event` matched none of `routes` (nor a schedule): the closest rules and how
 * they differ, e.g. `closest rules (same source and detail-type): split-job-finished (→ registerStagedTables)
 * wants detail.jobName "flywheel-local-infobase-split-and-bucket" or "…", got "flywheel-x"`.
 */
export function describeNoRoute(routes: Route[], event: unknown): string {
  const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  if (Array.isArray(e.Records)) {
    // the S3 → Lambda form is routed record by record as the Object Created event of the same key
    const record = e.Records[0] as S3NotificationRecord | undefined;
    if (!record) return 'no rule matched: the S3 notification holds no Records';
    const created = s3RecordAsObjectCreated(record);
    if (!created)
      return `no rule matched: Records[0] is not an S3 object creation with a readable key (eventSource ${show(record.eventSource)}, eventName ${show(record.eventName)}, key ${show(record.s3?.object?.key)}); rules take "aws:s3" "ObjectCreated:*" records`;
    return `Records[0] read as Object Created: ${describeNoRoute(routes, created)}`;
  }
  if (e.source === 'aws.events' && e['detail-type'] === 'Scheduled Event') {
    const rules = Array.isArray(e.resources) ? e.resources.map(String) : [];
    return `no schedule matched: resources name ${rules.length ? rules.map(show).join(', ') : 'no rule'}, but a Flywheel schedule's rule ARN ends in ${SCHEDULES.map((s) => `"…/<service>-<stage>-${s.name}"`).join(', ')}`;
  }
  const misses = closestRoutes(routes, event);
  const best = misses[0];
  if (!best || best.closeness === 'source') {
    const sources = [...new Set(routes.flatMap((r) => (Array.isArray(r.pattern.source) ? r.pattern.source.map(String) : [])))];
    return `no rule listens to source ${show(e.source)} with detail-type ${show(e['detail-type'])} (rules listen to ${sources.map(show).join(', ')}; "aws.events" "Scheduled Event" for the schedules)`;
  }
  const tied = misses.filter((m) => m.closeness === best.closeness && m.misses.length === best.misses.length).slice(0, 4);
  const label = best.closeness === 'detail' ? 'same source and detail-type' : 'same source only';
  const wants = tied.map((m) => `${m.route.name} (→ ${m.route.fn}) wants ${m.misses.map((f) => `${f.path} ${expectation(f.expected)}`).join(' and ')}`);
  const got = [...new Map(tied.flatMap((m) => m.misses).map((f) => [f.path, f.actual])).entries()].map(
    ([p, v]) => `${p} is ${v === undefined ? 'missing' : show(v)}`,
  );
  return `no rule matched; closest (${label}): ${wants.join('; ')} — but ${got.join(', ')}`;
}

/** Pattern values in words: `"A" or "B"`, `a value like "x/*"/_SUCCESS"`. */
export function expectation(values: Leaf): string {
  const words = values.map((v) => {
    if (v === null || typeof v !== 'object') return show(v);
    const rule = v as Record<string, unknown>;
    if ('wildcard' in rule) return `like ${show(rule.wildcard)}`;
    if ('prefix' in rule) return `starting ${show(rule.prefix)}`;
    if ('suffix' in rule) return `ending ${show(rule.suffix)}`;
    if ('exists' in rule) return rule.exists ? 'present' : 'absent';
    if ('anything-but' in rule) return `anything but ${(rule['anything-but'] as unknown[]).map(show).join(', ')}`;
    return JSON.stringify(rule);
  });
  if (words.length === 0) return 'nothing (the rule has no value to match)';
  return words.length === 1 ? words[0]! : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

/** A value for a one-line message: JSON (control characters escaped), long strings cut. */
export function show(v: unknown): string {
  if (v === undefined) return 'missing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/**
 * The Glue job and Athena workgroup names of the deployed stacks (`<service>-<stage>-<job>`,
 * `<service>-<stage>[-monitor]`, see serverless.yml) and the bucket `<service>-<stage>-data-<region>`,
 * mapped to the names of `params` (the local stack's `flywheel-local-…`). Only names that follow that
 * naming and have a counterpart in `params` are renamed; everything else is left as it is.
 */
export function renameStage(
  event: unknown,
  params: RouteParams,
  service = 'flywheel',
): { event: unknown; renamed: Array<{ field: string; from: string; to: string }> } {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return { event, renamed: [] };
  const e = event as Record<string, unknown>;
  const detail = e.detail;
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return { event, renamed: [] };
  const d = detail as Record<string, unknown>;
  const renamed: Array<{ field: string; from: string; to: string }> = [];
  const copy: Record<string, unknown> = { ...d };
  const stagePrefix = new RegExp(`^${service}-([a-z0-9][a-z0-9-]*?)-`, 'i');
  const wholePrefix = new RegExp(`^${service}-[a-z0-9][a-z0-9-]*-$`, 'i');
  const jobs = [...params.datasets.map((x) => x.splitJobName), params.compactionJobName, params.chargebacksJobName];
  if (e.source === 'aws.glue' && typeof d.jobName === 'string' && !jobs.includes(d.jobName)) {
    // the longest job suffix wins (…-addressable-bucket before …-bucket)
    const to = jobs
      .map((job) => ({ job, suffix: job.replace(stagePrefix, '') }))
      .filter(
        ({ job, suffix }) =>
          suffix !== job &&
          d.jobName !== job &&
          (d.jobName as string).endsWith(`-${suffix}`) &&
          wholePrefix.test((d.jobName as string).slice(0, -suffix.length)),
      )
      .sort((a, b) => b.suffix.length - a.suffix.length)[0]?.job;
    if (to) {
      renamed.push({ field: 'detail.jobName', from: d.jobName, to });
      copy.jobName = to;
    }
  }
  if (e.source === 'aws.athena' && typeof d.workgroupName === 'string') {
    const wg = d.workgroupName;
    const m = new RegExp(`^${service}-([a-z0-9][a-z0-9-]*?)(-monitor)?$`, 'i').exec(wg);
    const to = m ? (m[2] ? params.monitorWorkgroup : params.athenaWorkgroup) : undefined;
    if (to && to !== wg && wg !== params.athenaWorkgroup && wg !== params.monitorWorkgroup) {
      renamed.push({ field: 'detail.workgroupName', from: wg, to });
      copy.workgroupName = to;
    }
  }
  if (e.source === 'aws.s3') {
    const bucket = d.bucket as Record<string, unknown> | undefined;
    const name = bucket?.name;
    if (typeof name === 'string' && name !== params.dataBucket && new RegExp(`^${service}-[a-z0-9-]+-data-[a-z]{2}(-gov)?-[a-z]+-\\d$`).test(name)) {
      renamed.push({ field: 'detail.bucket.name', from: name, to: params.dataBucket });
      copy.bucket = { ...bucket, name: params.dataBucket };
    }
  }
  return renamed.length ? { event: { ...e, detail: copy }, renamed } : { event, renamed };
}
