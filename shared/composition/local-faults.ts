/**
 * Fault injection for tests, as decorators of the local ports: a faulted job run or build step ends FAILED
 * with the given message, announced on the bus as Glue or Athena would announce it. The adapters carry no
 * test hooks; only a local runtime opened with `faults` (tests) is wrapped.
 */
import { randomUUID } from 'node:crypto';
import type { LocalBus } from '../adapters/local/local-bus.js';
import { deliverJobEnd, deliverQueryEnd, newJobRunId } from '../adapters/local/local-engines.js';
import type { BuildStep } from '../domain/build-steps.js';
import type { JobRunner, MaintenanceJob, QueryEngine } from '../ports.js';

export interface LocalFaults {
  /** Fail every job run (split, compaction, chargebacks) started while this returns a message. */
  job?: () => string | undefined;
  /** Fail a part_ range step when this returns a message for it. */
  step?: (step: BuildStep) => string | undefined;
}

/** Job runs that fail at once with the fault's message; the others go to `jobs`. */
export function withJobFaults(
  jobs: JobRunner,
  bus: LocalBus,
  fail: () => string | undefined,
  names: { split: (dataset: string) => string; maintenance: Record<MaintenanceJob, string> },
): JobRunner {
  const failed = new Map<string, string>();
  const failedRun = (jobName: string, message: string) => {
    const jobRunId = newJobRunId();
    failed.set(jobRunId, message);
    bus.defer(async () => deliverJobEnd(bus, { jobName, jobRunId, state: 'FAILED', message }));
    return { jobName, jobRunId };
  };
  return {
    async startSplitJob(args) {
      const message = fail();
      return message ? failedRun(names.split(args.dataset), message) : jobs.startSplitJob(args);
    },
    async startJob(job, args) {
      const message = fail();
      return message ? failedRun(names.maintenance[job], message) : jobs.startJob(job, args);
    },
    async jobRunState(jobName, jobRunId) {
      const message = failed.get(jobRunId);
      return message ? { state: 'FAILED', reason: message } : jobs.jobRunState(jobName, jobRunId);
    },
  };
}

/** part_ range steps that fail with the fault's message (recorded like a failed Athena query); every other query goes to `engine`. */
export function withStepFaults(engine: QueryEngine, bus: LocalBus, workgroup: string, fail: (step: BuildStep) => string | undefined): QueryEngine {
  const failed = new Map<string, string>();
  const byToken = new Map<string, string>();
  return {
    async start(query, token) {
      const known = byToken.get(token);
      if (known) return known; // idempotent like Athena's ClientRequestToken
      const message = query.kind === 'part-range' ? fail(query) : undefined;
      if (!message) return engine.start(query, token);
      const id = randomUUID();
      failed.set(id, message);
      byToken.set(token, id);
      bus.defer(async () => deliverQueryEnd(bus, id, 'FAILED', workgroup));
      return id;
    },
    async status(id) {
      const message = failed.get(id);
      return message ? { state: 'FAILED', reason: message } : engine.status(id);
    },
    results: (id) => engine.results(id),
  };
}
