/** replay handler: a Replay Requested event (strictly validated) re-runs a snapshot from a stage. */
import type { Deps, ReachInputs } from '../../shared/deps.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { ReplayRequestedSchema } from '../../shared/events/schemas.js';
import { alertInvalidEvent } from '../../shared/use-cases/alerts.js';
import { makeReplay, replayReach, type ReplayOutcome } from '../../shared/use-cases/replay.js';

/** What this function may do through the ports: its use cases' reach (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => replayReach(i.config);

export function makeReplayHandler(deps: Deps) {
  const replay = makeReplay(deps);
  return async function replayRequested(event: unknown): Promise<ReplayOutcome> {
    const parsed = await parseEvent(deps, 'replay', ReplayRequestedSchema, event);
    if (!parsed.ok) return { outcome: 'refused', ...parsed.declined };
    const e = parsed.event;
    if (!(e.detail.dataset in deps.config.datasets)) {
      const reason = `detail.dataset: unknown dataset ${e.detail.dataset} (known: ${Object.keys(deps.config.datasets).join(', ')})`;
      return { outcome: 'refused', ...(await alertInvalidEvent(deps, 'replay', reason, event)) };
    }
    return replay({ ...e.detail, requestId: e.id, replayName: e['replay-name'] });
  };
}
