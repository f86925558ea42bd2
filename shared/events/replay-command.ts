/** The operator's replay command in AWS: a Replay Requested event put on the project bus. */
import type { ReplayArgs } from '../ports.js';
import { OPS_SOURCE } from './patterns.js';

/** The `aws events put-events` command that replays a stage. */
export function awsReplayCommand(busName: string, a: ReplayArgs & { dryRun?: boolean; reason?: string }): string {
  const detail = JSON.stringify({
    dataset: a.dataset,
    snapshotDt: a.snapshotDt,
    fromStage: a.fromStage,
    ...(a.tables?.length ? { tables: a.tables } : {}),
    ...(a.dryRun ? { dryRun: true } : {}),
    reason: a.reason ?? 'replay after failure',
  });
  const entries = JSON.stringify([{ EventBusName: busName, Source: OPS_SOURCE, DetailType: 'Replay Requested', Detail: detail }]);
  return `aws events put-events --entries '${entries.replace(/'/g, "'\\''")}'`;
}
