/**
 * The bridge from patterns.ts to serverless.yml: `${file(./shared/events/serverless-patterns.cjs):readyMarkerLanded}`
 * resolves to the EventBridge pattern of the route `ready-marker-landed`, built by `routes()` with
 * this stage's names, so each pattern is written once (patterns.ts) and the local bus and the
 * deployed rules cannot drift apart. CommonJS because osls `require`s variable files; tsx loads
 * the TypeScript source without a build step.
 */
'use strict';

const { require: requireTs } = require('tsx/cjs/api');

const { routes } = requireTs('./patterns.ts', __filename);
// The datasets and their layout (shared/domain/layout.ts) as the code sees them: the same list the local bus routes by.
const { defaultConfig } = requireTs('../domain/config.ts', __filename);

/** The serverless.yml variable naming each dataset's split job (a Glue job defined in that file). */
const SPLIT_JOB_VARIABLES = { infobase: 'self:custom.splitJobName', addressable: 'self:custom.addressableJobName' };

/** The serverless.yml values that fill RouteParams (names of resources defined in that file) and the datasets of the layout. */
async function routeParams(resolveVariable) {
  const datasets = Object.values(defaultConfig().datasets);
  const [dataBucket, athenaWorkgroup, monitorWorkgroup, compactionJobName, chargebacksJobName, ...splitJobNames] = await Promise.all([
    resolveVariable('self:custom.dataBucketName'),
    resolveVariable('self:custom.athenaWorkgroup'),
    resolveVariable('self:custom.monitorWorkgroup'),
    resolveVariable('self:custom.compactionJobName'),
    resolveVariable('self:custom.chargebacksJobName'),
    ...datasets.map((d) => {
      const variable = SPLIT_JOB_VARIABLES[d.name];
      if (!variable) throw new Error(`dataset ${d.name} has no split job in serverless.yml (serverless-patterns.cjs SPLIT_JOB_VARIABLES)`);
      return resolveVariable(variable);
    }),
  ]);
  return {
    dataBucket,
    athenaWorkgroup,
    monitorWorkgroup,
    compactionJobName,
    chargebacksJobName,
    // as the local composition's localRouteParams: each dataset's raw prefix, ready marker and raw landing
    datasets: datasets.map((d, i) => ({
      rawPrefix: d.rawPrefix,
      readyMarker: d.readyMarker,
      splitJobName: splitJobNames[i],
      compactionPrefix: d.compaction?.sourcePrefix,
    })),
  };
}

/** `ready-marker-landed` → `readyMarkerLanded`: YAML variable addresses read better in camelCase. */
const camel = (name) => name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

// Route names are static (only the pattern values depend on params), so list them with
// placeholder params once and resolve each pattern lazily with the real ones.
const placeholder = { dataBucket: '', athenaWorkgroup: '', monitorWorkgroup: '', compactionJobName: '', chargebacksJobName: '', datasets: [] };

for (const { name } of routes(placeholder)) {
  module.exports[camel(name)] = async ({ resolveVariable }) => {
    const route = routes(await routeParams(resolveVariable)).find((r) => r.name === name);
    return route.pattern;
  };
}
