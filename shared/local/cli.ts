/** `npx flywheel …`: the local-mode CLI (run, event, query, status, bucket; start = sample lake + run); see the README's commands. */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { defaultConfig } from '../domain/config.js';
import { LAYOUT } from '../domain/layout.js';
import { STAGES, type StageName } from '../domain/ledger.js';
import type { LocalRuntime } from '../composition/local.js';
import { isDeclined } from '../events/declined.js';

// Everything else is imported inside the command that uses it: `bucket` loads the bucket function only, and
// DuckDB, the handlers and zod load only for the commands that need them (the built CLI splits them into
// chunks; shared/local/build-cli.mjs).
const runLocalModule = () => import('./run-local.js');
const composition = () => import('../composition/local.js');

const out = (line = '') => process.stdout.write(`${line}\n`);

/** The datasets (shared/domain/layout.ts), and those whose raw landings are compacted first. */
const DATASETS = Object.values(defaultConfig().datasets);
const DATASET_NAMES = DATASETS.map((d) => d.name);
const COMPACTED = DATASETS.filter((d) => d.compaction).map((d) => d.name);

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('flywheel')
    .description('Flywheel: marketing-data snapshots → Cleanroom-ready tables. Locally on DuckDB and the filesystem.')
    .showHelpAfterError()
    .exitOverride();
  const home = () => new Option('--home <dir>', 'local home folder').default('.flywheel');

  program
    .command('run')
    .description('run the pipeline locally to completion (exit 0 only if every stage succeeded)')
    .addOption(home())
    .addOption(new Option('--dataset <name>', 'dataset to run').choices([...DATASET_NAMES, 'all']).default('all'))
    .option('--snapshot <date>', 'snapshot_dt to run (default: the latest valid one)')
    .option('--tables <list>', 'comma-separated target tables (default: all)')
    .addOption(new Option('--from-stage <stage>', 'stage to start from').choices([...STAGES]))
    .option('--verbose', 'echo JSON logs to stderr')
    .action(async (o) => {
      const { runLocal } = await runLocalModule();
      exitCode = await runLocal({
        home: o.home,
        dataset: o.dataset,
        snapshotDt: o.snapshot,
        tables: splitList(o.tables),
        fromStage: o.fromStage as StageName | undefined,
        verbose: o.verbose,
      });
    });

  program
    .command('start')
    .description('generate a sample lake when none exists, then run the pipeline (what `npm start` does)')
    .addOption(home())
    .option('--rows <n>', 'rows per sample source table', '500000')
    .option('--verbose', 'echo JSON logs to stderr')
    .action(async (o) => {
      const [{ homePaths }, { runLocal }] = await Promise.all([composition(), runLocalModule()]);
      const lake = homePaths(o.home).lake;
      if (!existsSync(path.join(lake, 'data'))) {
        out(`Generating a sample lake in ${path.join(o.home, 'lake')} (${Number(o.rows).toLocaleString('en-US')} rows per source table)…`);
        const started = Date.now();
        const { generateSampleLake } = await import('./sample-lake.js');
        await generateSampleLake(lake, { rows: Number(o.rows), rawLanding: true, onTable: (s, t) => out(`  snapshot_dt=${s} ${t}`) });
        out(`Sample lake ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      }
      exitCode = await runLocal({ home: o.home, dataset: 'all', verbose: o.verbose });
    });

  program
    .command('event')
    .description(
      'deliver one AWS-shaped event (S3, Glue, Athena, Scheduled, Replay, or a put-events entry) through the local bus; exit 0 only if it was handled, else 2 with the reason on one stderr line',
    )
    .argument('<file>', 'event JSON file')
    .addOption(home())
    .option('--verbose', 'echo JSON logs to stderr')
    .action(async (file: string, o) => {
      const { runEventFile } = await runLocalModule();
      exitCode = await runEventFile({ home: o.home, file, verbose: o.verbose });
    });

  program
    .command('query')
    .description('SQL over the local catalog tables (part_<t>, bucketed_<t>, ext_<t>, …)')
    .argument('<sql>', 'SQL statement')
    .addOption(home())
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .action(async (sql: string, o) => {
      const { formatRows } = await import('./format.js');
      exitCode = await withRuntime(o.home, 'query', async (rt) => {
        const { columns, rows } = await rt.query(sql);
        out(formatRows(columns, rows, o.format));
      });
    });

  program
    .command('status')
    .description('the run ledgers: dataset, snapshot, stage states, counts, timings')
    .addOption(home())
    .action(async (o) => {
      const [{ localRuntime }, { makeLedgerStore }, { printLedgers }] = await Promise.all([
        composition(),
        import('../use-cases/ledger-store.js'),
        runLocalModule(),
      ]);
      const rt = await localRuntime({ home: o.home });
      try {
        const ledgers = makeLedgerStore(rt.deps.store, rt.deps.config, rt.deps.clock);
        const all = (await Promise.all(Object.keys(rt.deps.config.datasets).map((d) => ledgers.list(d)))).flat();
        if (all.length === 0) out(`no runs yet under ${o.home}`);
        printLedgers(all, out);
      } finally {
        rt.close();
      }
    });

  program
    .command('replay')
    .description('re-run a snapshot from a stage through a Replay Requested event, as an operator does in AWS')
    .addOption(home())
    .requiredOption('--snapshot <date>', 'snapshot_dt to replay')
    .option('--dataset <name>', 'dataset', 'infobase')
    .addOption(new Option('--from-stage <stage>', 'stage to start from (default: the first failed or unfinished one)').choices([...STAGES]))
    .option('--tables <list>', 'comma-separated target tables (default: all)')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--reason <text>', 'why (kept in the logs and the event)', 'manual replay')
    .option('--bus <name>', 'event bus named in the printed aws command', 'flywheel-<stage>')
    .option('--verbose', 'echo JSON logs to stderr')
    .action(async (o) => {
      const { runReplay } = await runLocalModule();
      exitCode = await runReplay({
        home: o.home,
        dataset: o.dataset,
        snapshotDt: o.snapshot,
        fromStage: o.fromStage,
        tables: splitList(o.tables),
        dryRun: !!o.dryRun,
        reason: o.reason,
        bus: o.bus,
        verbose: o.verbose,
      });
    });

  program
    .command('compact')
    .description(
      `compact a dataset's raw landing (${LAYOUT.rawLandingRoot}<dataset>/raw_input/snapshot_dt=D/) into the split's input, then run the pipeline on it`,
    )
    .addOption(home())
    .addOption(new Option('--dataset <name>', 'dataset').choices(COMPACTED).default('addressable'))
    .requiredOption('--snapshot <date>', 'snapshot_dt of the raw landing')
    .option('--verbose', 'echo JSON logs to stderr')
    .action(async (o) => {
      // the direct invocation an operator sends the compaction function in AWS (`aws lambda invoke … {"dataset","snapshotDt"}`)
      const { runLocal } = await runLocalModule();
      exitCode = await runLocal({
        home: o.home,
        verbose: o.verbose,
        kick: (rt) => rt.bus.invoke('compaction', { dataset: o.dataset, snapshotDt: o.snapshot }),
      });
    });

  program
    .command('consolidate')
    .description(
      'chargebacks consolidation of one day, locally: the chargebacks function invoked directly, its job on DuckDB (a day with no landing data is an error)',
    )
    .addOption(home())
    .option('--date <date>', 'PARTITION_DATE (default: yesterday, UTC)')
    .option('--files <n>', 'OUTPUT_FILE_COUNT', '4')
    .option('--codec <codec>', 'COMPRESSION_CODEC', 'snappy')
    .option('--dry-run', 'count and report, write nothing')
    .option('--verbose', 'echo JSON logs to stderr')
    .action(async (o) => {
      const date = o.date ?? new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      const { runConsolidate } = await runLocalModule();
      exitCode = await runConsolidate({ home: o.home, date, files: Number(o.files), codec: o.codec, dryRun: !!o.dryRun, verbose: o.verbose });
    });

  program
    .command('cleanrooms-report')
    .description(
      'the Clean Rooms report against the local catalog: which part_ tables are ready for analysis, and the ID resolution mappings (Clean Rooms itself is read from a JSON description)',
    )
    .addOption(home())
    .option(
      '--description <file>',
      'Clean Rooms / Entity Resolution description JSON (default: <home>/cleanrooms.json, generated from the catalog when absent)',
    )
    .option('--membership <id>', 'Clean Rooms membership id (default: the sample membership)')
    .option('--table-prefix <prefix>', 'catalog table prefix', 'part_')
    .option('--verbose', 'echo JSON logs to stderr')
    .action(async (o) => {
      const { cleanroomsReportCommand } = await import('./cleanrooms.js');
      exitCode = await cleanroomsReportCommand(
        { home: o.home, description: o.description, membership: o.membership, tablePrefix: o.tablePrefix, verbose: o.verbose },
        out,
      );
    });

  program
    .command('reconcile')
    .description('advance runs whose state-change events were lost (what the 15-minute reconciler does in AWS)')
    .addOption(home())
    .option('--verbose', 'echo JSON logs to stderr')
    .action(async (o) => {
      const [{ functionDeps, localRuntime }, { makeReconcilerHandler }] = await Promise.all([composition(), import('../../services/reconciler/reconciler.js')]);
      const rt = await localRuntime({ home: o.home, verbose: o.verbose });
      try {
        const report = await makeReconcilerHandler(functionDeps(rt.deps, 'reconciler'))({});
        await rt.bus.drain();
        if (isDeclined(report)) throw new Error(`the reconciler declined its invocation: ${report.reason}`);
        out(
          `in flight: ${report.inFlight.length}; advanced: ${report.advanced.join('; ') || 'nothing'}; past timeout: ${report.timedOut.join('; ') || 'none'}`,
        );
      } finally {
        rt.close();
      }
    });

  const monitor = program
    .command('monitor')
    .description('the data monitor against the local catalog and lake; writes JSON, CSV and HTML reports, alerts to the outbox')
    .addOption(home())
    .option('--verbose', 'echo JSON logs to stderr');
  // the monitor's flags come from its options schema (zod), loaded unless another command is named
  const named = argv[2];
  if (named === undefined || named.startsWith('-') || named === 'help' || named === 'monitor') {
    const { MonitorOptionsSchema } = await import('../domain/monitor/options.js');
    for (const [name, schema] of Object.entries(MonitorOptionsSchema.shape)) {
      if (name === 'database' || name === 'report_bucket') continue;
      monitor.option(`--${name} <value>`, schema.description ?? name.replace(/_/g, ' '));
    }
  }
  monitor.option('--database <name>', 'Glue database (local default: flywheel)').option('--report_bucket <name>', 'report bucket (local default: analysis)');
  monitor.action(async (o) => {
    const { home: dir, verbose, ...flags } = o as Record<string, unknown> & { home: string; verbose?: boolean };
    const { runMonitor } = await runLocalModule();
    exitCode = await runMonitor({ home: dir, verbose, options: flags });
  });

  program
    .command('bucket')
    .description('print ID<TAB>bucket for each id (the shared bucket function, among FLYWHEEL_BUCKET_COUNT buckets, default 256)')
    .argument('<ids...>')
    .action(async (ids: string[]) => {
      const [{ bucketOf }, { localConfigFromEnv }] = await Promise.all([import('../domain/bucket.js'), import('../composition/local-functions.js')]);
      const { bucketCount } = localConfigFromEnv();
      for (const id of ids) out(`${id}\t${bucketOf(id, bucketCount)}`);
    });

  const name = argv[2];
  if (name && !name.startsWith('-') && name !== 'help' && !program.commands.some((c) => c.name() === name)) {
    process.stderr.write(`flywheel: unknown command '${name}' (see flywheel --help)\n`);
    return 1;
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    if (code !== undefined) return code;
    process.stderr.write(`flywheel: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
  return exitCode;
}

/** Runs `fn` on a local runtime; a failure prints `<what> failed: …` and sets exit code 1; the runtime is always closed. */
async function withRuntime(home: string, what: string, fn: (rt: LocalRuntime) => Promise<void>): Promise<number> {
  const { localRuntime } = await composition();
  const rt = await localRuntime({ home });
  try {
    await fn(rt);
    return 0;
  } catch (err) {
    process.stderr.write(`${what} failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    rt.close();
  }
}

function splitList(value?: string): string[] | undefined {
  return value
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
}
