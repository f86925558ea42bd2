/**
 * What a use case may be given: the ports (shared/ports.ts), the deployment's config and job parameters
 * (shared/domain), and the Powertools logger and metrics. One composition root per mode wires it all
 * (composition/aws.ts, composition/local.ts); each use case names the part it uses with `DepsOf<…>`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { PipelineConfig } from './domain/config.js';
import type { ChargebacksParams } from './domain/chargebacks.js';
import type { CleanroomsReportDefaults } from './domain/cleanrooms-report.js';
import type { MonitorDefaults } from './domain/monitor/options.js';
import type { Ports } from './ports.js';

export type { ParquetFooter, ReplayArgs } from './ports.js';

export interface Deps extends Ports {
  config: PipelineConfig;
  logger: Logger;
  /** CloudWatch metrics as EMF lines (published by the Lambda middleware; locally into the log file). */
  metrics: Metrics;
  /** Monitor options of this deployment (environment in AWS, flags locally); an invocation may override them. */
  monitorDefaults: MonitorDefaults;
  /** Parameters of the chargebacks consolidation job (CHARGEBACKS_* in AWS). */
  chargebacks: ChargebacksParams;
}

/** The part of the deps a use case asks for, e.g. `DepsOf<'config' | 'store' | 'logger'>`. */
export type DepsOf<K extends keyof Deps> = Pick<Deps, K>;

/** What a function's reach is computed from: the deployment's config and option defaults (no adapter needed). */
export interface ReachInputs {
  config: PipelineConfig;
  monitorDefaults: MonitorDefaults;
  cleanrooms: CleanroomsReportDefaults;
}
