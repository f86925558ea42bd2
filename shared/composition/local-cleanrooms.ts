/**
 * The Clean Rooms report in local mode: the catalog is the local DuckDB one, Clean Rooms and Entity
 * Resolution are a JSON description file (format: shared/adapters/local/cleanrooms-directory.ts),
 * and the report lands in `lake/analysis/cleanrooms-reports/`. Run by the local runtime for the daily
 * schedule's event and by `npx flywheel cleanrooms-report` (shared/local/cleanrooms.ts).
 */
import type { Declined } from '../events/declined.js';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { makeCleanroomsReportHandler } from '../../services/cleanrooms-report/cleanrooms-report.js';
import { LocalCleanRoomsDirectory, type CleanroomsDescription } from '../adapters/local/cleanrooms-directory.js';
import { functionDeps, localCleanroomsDefaults } from './local-functions.js';
import { guardDirectory } from '../adapters/access-guard.js';
import { cleanroomsReportReach } from '../use-cases/cleanrooms-report.js';
import type { Deps } from '../deps.js';
import type { CleanroomsReportSummary } from '../use-cases/cleanrooms-report.js';

/** The membership the sample description's associations belong to (a Clean Rooms membership id is a UUID). */
export const LOCAL_MEMBERSHIP_ID = '00000000-0000-4000-8000-00000000c1ea';
/** Placeholder accounts of the sample (documentation account ids, never a real one). */
const ANALYST_ACCOUNT = '111122223333';
const PARTNER_ACCOUNT = '444455556666';

export interface CleanroomsLocalOptions {
  /** The description file (default `<home>/cleanrooms.json`). */
  description?: string;
  membershipId?: string;
  tablePrefix?: string;
  reportPrefix?: string;
  /** When the description file does not exist, write `sampleCleanroomsDescription` of the catalog's tables there first. */
  createSample?: boolean;
  /** Deliver this event instead of a direct invocation (e.g. events/scheduled-event.cleanrooms-report.json). */
  event?: unknown;
}

/** What the report needs of a local runtime (composition/local.ts's LocalRuntime). */
export interface CleanroomsRuntime {
  deps: Deps;
  home: string;
}

/** Default description file of a local home. */
export const descriptionPath = (home: string) => path.join(home, 'cleanrooms.json');

/** Runs the report once through the same handler as the Lambda; resolves to its summary, or its rejection (alerted). */
export async function runCleanroomsReportLocal(
  runtime: CleanroomsRuntime,
  opts: CleanroomsLocalOptions = {},
): Promise<{ summary: CleanroomsReportSummary | Declined; description: string; sampleWritten: boolean }> {
  const { config } = runtime.deps;
  const prefix = opts.tablePrefix ?? config.prefixes.part;
  const description = path.resolve(opts.description ?? descriptionPath(runtime.home));
  let sampleWritten = false;
  if (opts.createSample && !existsSync(description)) {
    const tables = (await runtime.deps.catalog.listTables(config.database, prefix)).map((t) => t.name).filter((n) => !n.includes('__'));
    await fs.mkdir(path.dirname(description), { recursive: true });
    await fs.writeFile(description, `${JSON.stringify(sampleCleanroomsDescription(tables, { database: config.database }), null, 2)}\n`);
    sampleWritten = true;
  }
  const defaults = localCleanroomsDefaults(config, { tablePrefix: prefix, reportPrefix: opts.reportPrefix });
  const deps = functionDeps(runtime.deps, 'cleanroomsReport', { cleanrooms: defaults });
  const directory = guardDirectory(new LocalCleanRoomsDirectory(description), cleanroomsReportReach(defaults), 'function cleanroomsReport');
  const handler = makeCleanroomsReportHandler(deps, directory, {
    ...defaults,
    membershipId: opts.membershipId ?? LOCAL_MEMBERSHIP_ID,
    rerunCommand: localCommand(runtime.home, opts.description),
  });
  const summary = await handler(opts.event ?? {});
  return { summary, description, sampleWritten };
}

function localCommand(home: string, description?: string): string {
  const rel = path.relative(process.cwd(), home) || '.';
  return ['npx flywheel cleanrooms-report', rel === '.flywheel' ? undefined : `--home ${rel}`, description ? `--description ${description}` : undefined]
    .filter(Boolean)
    .join(' ');
}

/**
 * A realistic description for the sample lake's tables: every table configured (part_<t> with a
 * CUSTOM rule naming analysis providers, part_<t>_er with a LIST rule whose association names result
 * receivers) and associated with LOCAL_MEMBERSHIP_ID, except the last plain table, which is not
 * configured, and the one before it, whose analysis rule read is throttled. One ID namespace reads
 * the first part_<t>_er table (else the first table) through one schema mapping.
 */
export function sampleCleanroomsDescription(tables: string[], opts: { database?: string; membershipId?: string; region?: string } = {}): CleanroomsDescription {
  const database = opts.database ?? 'flywheel';
  const membershipId = opts.membershipId ?? LOCAL_MEMBERSHIP_ID;
  const region = opts.region ?? 'us-east-1';
  const sorted = [...new Set(tables)].sort();
  const plain = sorted.filter((t) => !t.endsWith('_er'));
  const notConfigured = plain.at(-1);
  const throttled = plain.length > 1 ? plain.at(-2) : undefined;
  const id = (t: string) => `ct-${t.replace(/_/g, '-')}`;
  const configured = sorted.filter((t) => t !== notConfigured);
  const er = sorted.find((t) => t.endsWith('_er')) ?? sorted[0];
  const schema = 'flywheel_customer_ids';
  return {
    membershipId,
    configuredTables: configured.map((t) => ({
      id: id(t),
      name: t,
      glue: { database, table: t, region },
      analysisRule: t.endsWith('_er')
        ? { type: 'LIST' as const, allowedAnalyses: [], allowedAnalysisProviders: [] }
        : { type: 'CUSTOM' as const, allowedAnalyses: ['ANY_QUERY'], allowedAnalysisProviders: [ANALYST_ACCOUNT] },
      ...(t === throttled ? { analysisRuleError: 'ThrottlingException: Rate exceeded' } : {}),
    })),
    associations: configured.map((t) => ({
      id: `cta-${t.replace(/_/g, '-')}`,
      name: t,
      configuredTableId: id(t),
      membershipId,
      analysisRule: t.endsWith('_er')
        ? { type: 'LIST' as const, allowedResultReceivers: [ANALYST_ACCOUNT, PARTNER_ACCOUNT], allowedAdditionalAnalyses: [] }
        : { type: 'CUSTOM' as const, allowedResultReceivers: [ANALYST_ACCOUNT], allowedAdditionalAnalyses: [] },
    })),
    idNamespaces: er
      ? [
          {
            name: 'flywheel-customer-ids',
            type: 'SOURCE' as const,
            methods: ['RULE_BASED' as const],
            inputSources: [{ inputSourceARN: `arn:aws:glue:${region}:${ANALYST_ACCOUNT}:table/${database}/${er}`, schemaName: schema }],
          },
        ]
      : [],
    schemaMappings: [
      {
        name: schema,
        mappedInputFields: [
          { fieldName: 'row_id', type: 'UNIQUE_ID' },
          { fieldName: 'customer_user_id', type: 'STRING', matchKey: 'customer_user_id' },
        ],
      },
    ],
  };
}
