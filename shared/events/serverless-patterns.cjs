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

/** The serverless.yml values that fill RouteParams (names of resources defined in that file). */
async function routeParams(resolveVariable) {
  const [dataBucket, athenaWorkgroup, monitorWorkgroup, splitJobName, rawPrefix, readyMarker, addressableJobName, addressableRawPrefix, compactionJobName, chargebacksJobName, infobaseCompactionPrefix, addressableCompactionPrefix] = await Promise.all([
    resolveVariable('self:custom.dataBucketName'),
    resolveVariable('self:custom.athenaWorkgroup'),
    resolveVariable('self:custom.monitorWorkgroup'),
    resolveVariable('self:custom.splitJobName'),
    resolveVariable('self:custom.rawPrefix'),
    resolveVariable('self:custom.readyMarker'),
    resolveVariable('self:custom.addressableJobName'),
    resolveVariable('self:custom.addressableRawPrefix'),
    resolveVariable('self:custom.compactionJobName'),
    resolveVariable('self:custom.chargebacksJobName'),
    resolveVariable('self:custom.infobaseCompactionPrefix'),
    resolveVariable('self:custom.addressableCompactionPrefix'),
  ]);
  return {
    dataBucket,
    athenaWorkgroup,
    monitorWorkgroup,
    compactionJobName,
    chargebacksJobName,
    datasets: [
      { rawPrefix, readyMarker, splitJobName, compactionPrefix: infobaseCompactionPrefix },
      { rawPrefix: addressableRawPrefix, readyMarker, splitJobName: addressableJobName, compactionPrefix: addressableCompactionPrefix },
    ],
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
