/** The Glue job arguments a maintenance use case passes, captured from its job runner: what the AWS-shape runs give the scripts. */
import type { PipelineConfig } from '../../shared/domain/config.js';
import type { Deps } from '../../shared/deps.js';
import { makeChargebacks } from '../../shared/use-cases/chargebacks.js';
import { makeCompaction } from '../../shared/use-cases/compaction.js';

type Jobs = ReturnType<typeof makeCompaction> & ReturnType<typeof makeChargebacks>;

/** Runs `start` on the use case at `now` with a runner that records the arguments of the job it starts (and nothing else). */
export async function maintenanceJobArgs(config: PipelineConfig, now: Date, start: (jobs: Jobs) => Promise<unknown>): Promise<Record<string, string>> {
  let captured: Record<string, string> | undefined;
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
  const deps = {
    config,
    clock: { now: () => now },
    logger: quiet,
    notifier: { publish: async () => undefined },
    store: { put: async () => ({ etag: '"x"' }) },
    jobs: {
      startJob: async (job: string, args: Record<string, string>) => {
        captured = args;
        return { jobName: `flywheel-dev-${job}`, jobRunId: 'jr_test' };
      },
    },
  } as unknown as Deps;
  const { startCompaction } = makeCompaction(deps);
  const { startChargebacks, onJobFinished } = makeChargebacks(deps);
  await start({ startCompaction, startChargebacks, onJobFinished });
  if (!captured) throw new Error('the use case started no job');
  return captured;
}
