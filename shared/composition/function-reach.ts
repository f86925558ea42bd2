/**
 * Each function's reach, from the handler that wires its use cases: what the local access guard
 * enforces per function and what test/iam proves each function's IAM role allows.
 */
import { reach as bucketedTables } from '../../services/bucketed-tables/bucketed-tables.js';
import { reach as chargebacks } from '../../services/chargebacks/chargebacks.js';
import { reach as cleanroomsReport } from '../../services/cleanrooms-report/cleanrooms-report.js';
import { reach as compaction } from '../../services/compaction/compaction.js';
import { reach as dataMonitor } from '../../services/data-monitor/data-monitor.js';
import { reach as reconciler } from '../../services/reconciler/reconciler.js';
import { reach as registerStagedTables } from '../../services/register-staged-tables/register-staged-tables.js';
import { reach as replay } from '../../services/replay/replay.js';
import { reach as snapshotTrigger } from '../../services/snapshot-trigger/snapshot-trigger.js';
import type { Grant } from '../domain/access.js';
import type { ReachInputs } from '../deps.js';
import type { FunctionName } from '../events/patterns.js';

export const FUNCTION_REACH: Record<FunctionName, (inputs: ReachInputs) => Grant[]> = {
  snapshotTrigger,
  registerStagedTables,
  bucketedTables,
  replay,
  reconciler,
  dataMonitor,
  compaction,
  chargebacks,
  cleanroomsReport,
};
