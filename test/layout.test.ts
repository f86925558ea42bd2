/**
 * The dataset layout has one source, shared/domain/layout.ts (issue 17): config.ts builds the datasets from it,
 * serverless.yml reads it with `${file(./shared/composition/serverless-layout.cjs):…}`, serverless-patterns.cjs
 * and the CLI go through config.ts. These tests fail when serverless.yml or a source file under shared/ or
 * services/ writes one of its values itself, and when the packaged template scopes the buckets to anything but
 * the layout's prefixes.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ADDRESSABLE, defaultConfig, INFOBASE } from '../shared/domain/config.js';
import { LAYOUT, type DatasetLayout } from '../shared/domain/layout.js';
import { packaged, root } from './support/packaged.js';

type Json = any; // CloudFormation is untyped JSON

const LAYOUT_FILE = 'shared/domain/layout.ts';
/** What serverless.yml reads the layout through. */
const BRIDGE = './shared/composition/serverless-layout.cjs';

/** Every value of the layout with its address (`datasets.infobase.rawPrefix`). */
function layoutValues(): Array<{ at: string; value: string }> {
  const found: Array<{ at: string; value: string }> = [];
  const walk = (v: unknown, at: string[]) => {
    if (typeof v === 'string') found.push({ at: at.join('.'), value: v });
    else for (const [k, child] of Object.entries(v as object)) walk(child, [...at, k]);
  };
  walk(LAYOUT, []);
  return found;
}
const DATASETS = Object.entries(LAYOUT.datasets) as Array<[string, DatasetLayout]>;
const VALUES = layoutValues();
/** Distinct values (the datasets share a ready marker), each with the addresses that hold it. */
const DISTINCT = [...new Set(VALUES.map((v) => v.value))].map((value) => ({
  value,
  at: VALUES.filter((v) => v.value === value)
    .map((v) => v.at)
    .join(', '),
}));

/** `value` in `text`, not glued to a preceding letter or digit (`opus/` is not in `corpus/`). */
const contains = (text: string, value: string) => new RegExp(`(^|[^A-Za-z0-9])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).test(text);

/**
 * Layout values serverless.yml writes as literals: every line but its comments and the handlers' source paths
 * (`services/data-monitor/handler.handler` is a file, not the monitor's report prefix).
 */
function yamlLiterals(yaml: string): string[] {
  const findings: string[] = [];
  yaml.split('\n').forEach((line, i) => {
    const code = line.replace(/(^|\s)#.*$/, '');
    if (/^\s*handler:/.test(code)) return;
    for (const { value, at } of DISTINCT) if (contains(code, value)) findings.push(`serverless.yml:${i + 1}: ${value} (${at}) in ${code.trim()}`);
  });
  return findings;
}

/** Layout values written in the string and template literals of a TypeScript or JavaScript source (import specifiers aside). */
function sourceLiterals(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, /\.[cm]?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const findings: string[] = [];
  const isSpecifier = (node: ts.Node) =>
    ts.isImportDeclaration(node.parent) ||
    ts.isExportDeclaration(node.parent) ||
    ts.isExternalModuleReference(node.parent) ||
    (ts.isCallExpression(node.parent) &&
      (node.parent.expression.kind === ts.SyntaxKind.ImportKeyword || /^require(Ts)?$/.test(node.parent.expression.getText(source))));
  const visit = (node: ts.Node) => {
    if (
      (ts.isStringLiteral(node) ||
        ts.isNoSubstitutionTemplateLiteral(node) ||
        ts.isTemplateHead(node) ||
        ts.isTemplateMiddle(node) ||
        ts.isTemplateTail(node)) &&
      !isSpecifier(node)
    ) {
      for (const { value, at } of DISTINCT) {
        if (contains(node.text, value))
          findings.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}: ${value} (${at}) in ${node.getText(source)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}

/** The repository's own sources under `dir` (TypeScript and JavaScript). */
function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.([cm]?[jt]s)$/.test(e.name) && !e.name.endsWith('.d.ts') && !e.name.endsWith('.d.mts'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();
}

describe('the layout (shared/domain/layout.ts)', () => {
  test('holds prefixes that end with "/", keys and markers that do not; config.ts and the serverless.yml bridge serve it', () => {
    expect(VALUES.length).toBeGreaterThan(15);
    for (const { at, value } of VALUES) expect({ at, slash: value.endsWith('/') }).toEqual({ at, slash: /Prefix$|Root$/.test(at) });
    // what osls gets from the bridge (loaded as osls loads it: require, tsx)
    const bridged = execFileSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(BRIDGE)})))`], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(JSON.parse(bridged)).toEqual(LAYOUT);
    const d = defaultConfig();
    expect(Object.keys(d.datasets)).toEqual(Object.keys(LAYOUT.datasets));
    expect(d.datasets).toEqual({ infobase: INFOBASE, addressable: ADDRESSABLE });
    for (const [name, l] of DATASETS) {
      const c = d.datasets[name]!;
      const { compaction, ...paths } = l;
      expect(c).toMatchObject({ name, ...paths });
      expect(c.mappingKey).toBe(l.mappingKey);
      expect(c.compaction && { sourcePrefix: c.compaction.sourcePrefix, readyMarker: c.compaction.readyMarker }).toEqual(compaction);
    }
    expect(d.indexPrefix).toBe(LAYOUT.indexPrefix);
  });

  test("every raw landing is under rawLandingRoot (the crawlers' role reads that folder for all of them)", () => {
    for (const [, l] of DATASETS) expect(l.compaction?.sourcePrefix.startsWith(LAYOUT.rawLandingRoot)).toBe(true);
  });
});

describe('no other file writes a layout value', () => {
  test('serverless.yml takes every layout value from it (custom: `${file(./shared/composition/serverless-layout.cjs):…}`)', () => {
    const yaml = readFileSync(path.join(root, 'serverless.yml'), 'utf8');
    expect(yamlLiterals(yaml)).toEqual([]);
    // and reads every prefix and key of the file (the datasets' ready markers reach the template through the
    // event patterns, serverless-patterns.cjs over config.ts: checked below)
    for (const { at } of VALUES.filter((v) => !/\.readyMarker$/.test(v.at)))
      expect({ at, read: yaml.includes(`\${file(${BRIDGE}):${at}}`) }).toEqual({ at, read: true });
  });

  test('no source under shared/ or services/ but the layout writes one in a string', () => {
    const files = [...sources('shared'), ...sources('services')].filter((f) => f !== LAYOUT_FILE);
    expect(files).toEqual(
      expect.arrayContaining([
        'shared/domain/config.ts',
        'shared/local/cli.ts',
        'shared/composition/aws.ts',
        'shared/events/serverless-patterns.cjs',
        'shared/composition/serverless-layout.cjs',
      ]),
    );
    expect(files.flatMap((f) => sourceLiterals(f, readFileSync(path.join(root, f), 'utf8')))).toEqual([]);
  });

  test('the scans see a literal where one is written, and nothing in comments, handlers or import paths', () => {
    const yaml = readFileSync(path.join(root, 'serverless.yml'), 'utf8');
    const literal = yaml.replace("'${self:custom.chargebacksLandingPrefix}*'", "'landing/chargebacks/*'");
    expect(literal).not.toBe(yaml);
    expect(yamlLiterals(literal)).toEqual([
      expect.stringMatching(/^serverless\.yml:\d+: landing\/chargebacks\/ \(chargebacks\.landingPrefix\) in .*'landing\/chargebacks\/\*'/),
    ]);
    expect(yamlLiterals('  rawPrefix: omc_cleanroom_data/infobase_attributes/raw_input/\n')).toHaveLength(1);
    expect(yamlLiterals('    # raw landings (opus/<dataset>/raw_input/)\n    handler: services/data-monitor/handler.handler\n')).toEqual([]);
    expect(sourceLiterals('x.ts', "const out = `s3://${bucket}/consolidated/chargebacks/`;\nconst m = { marker: '_SUCCESS' };")).toHaveLength(2);
    expect(sourceLiterals('x.cjs', "const p = require('../services/data-monitor/x.js'); // opus/\n")).toEqual([]);
    expect(
      sourceLiterals(
        'x.ts',
        "import { a } from '../services/data-monitor/a.js';\nconst b = () => import('../services/data-monitor/b.js');\n/** under opus/ */\n",
      ),
    ).toEqual([]);
  });
});

describe('the packaged stack scopes its data to the layout', () => {
  const template = () => packaged('dev').template;
  /** The template's own folders, not the dataset layout: the Glue scripts it deploys, the Athena workgroups' results. */
  const OWN = { DataBucket: ['glue-scripts/'], AnalysisBucket: ['athena-results/'] } as const;
  const prefixes = VALUES.filter((v) => !/readyMarker$/.test(v.at)).map((v) => v.value);

  /** Every bucket key pattern the IAM roles grant: `${Bucket.Arn}/<key>` resources and `s3:prefix` conditions. */
  function grantedKeys(): Array<{ where: string; bucket: string; key: string }> {
    const keys: Array<{ where: string; bucket: string; key: string }> = [];
    const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    for (const [id, res] of Object.entries(template().Resources as Record<string, Json>)) {
      if (res.Type !== 'AWS::IAM::Role') continue;
      for (const policy of res.Properties.Policies ?? []) {
        for (const s of list<Json>(policy.PolicyDocument.Statement)) {
          const where = `${id}/${s.Sid}`;
          for (const r of list<Json>(s.Resource)) {
            const m = typeof r?.['Fn::Sub'] === 'string' ? /^\$\{(DataBucket|AnalysisBucket)\.Arn\}\/(.*)$/.exec(r['Fn::Sub']) : null;
            if (m) keys.push({ where, bucket: m[1]!, key: m[2]! });
          }
          const bucket = list<Json>(s.Resource)
            .map((r) => r?.['Fn::GetAtt']?.[0])
            .find((b) => b === 'DataBucket' || b === 'AnalysisBucket');
          for (const key of list<string>(s.Condition?.StringLikeIfExists?.['s3:prefix'])) keys.push({ where: `${where} s3:prefix`, bucket, key });
        }
      }
    }
    return keys;
  }

  test("every key an IAM role grants in the data or analysis bucket is under a layout prefix (or the template's own glue-scripts/, athena-results/)", () => {
    const keys = grantedKeys();
    expect(keys.length).toBeGreaterThan(100);
    const outside = keys.filter(({ bucket, key }) => ![...prefixes, ...OWN[bucket as keyof typeof OWN]].some((p) => key.startsWith(p)));
    expect(outside).toEqual([]);
    // each prefix and key of the layout is granted somewhere: the template reads the whole file
    for (const p of prefixes) expect({ p, granted: keys.some(({ key }) => key.startsWith(p)) }).toEqual({ p, granted: true });
  });

  test("crawlers, environment and routes carry the layout's values", () => {
    const r = template().Resources as Record<string, Json>;
    const { infobase, addressable } = LAYOUT.datasets;
    const target = (id: string) => r[id].Properties.Targets.S3Targets[0];
    expect([target('InfobaseRawCrawler'), target('AddressableRawCrawler'), target('ChargebacksLandingCrawler')].map((t) => t.Path['Fn::Sub'])).toEqual(
      [infobase.compaction!.sourcePrefix, addressable.compaction!.sourcePrefix, LAYOUT.chargebacks.landingPrefix].map((p) => `s3://\${DataBucket}/${p}`),
    );
    expect([target('InfobaseRawCrawler').Exclusions[0], target('AddressableRawCrawler').Exclusions[0]]).toEqual([
      `**/${infobase.compaction!.readyMarker}`,
      `**/${addressable.compaction!.readyMarker}`,
    ]);
    const env = (fn: string) => r[`${fn}LambdaFunction`].Properties.Environment.Variables;
    expect(env('Chargebacks').CHARGEBACKS_OUTPUT_PATH).toEqual({ 'Fn::Sub': `s3://\${DataBucket}/${LAYOUT.chargebacks.outputPrefix}` });
    expect(env('DataMonitor').MONITOR_REPORT_PREFIX).toBe(LAYOUT.monitorReportPrefix);
    expect(env('CleanroomsReport').CLEANROOMS_REPORT_PREFIX).toBe(LAYOUT.cleanroomsReportPrefix);
    const wildcards = (name: string) =>
      Object.values(r)
        .find((x: Json) => x.Type === 'AWS::Events::Rule' && x.Properties.Name === `flywheel-dev-${name}`)
        .Properties.EventPattern.detail.object.key.map((k: Json) => k.wildcard);
    expect(wildcards('ready-marker-landed')).toEqual(DATASETS.map(([, d]) => `${d.rawPrefix}snapshot_dt=*/${d.readyMarker}`));
    expect(wildcards('raw-landing-completed')).toEqual(DATASETS.map(([, d]) => `${d.compaction!.sourcePrefix}snapshot_dt=*/${d.readyMarker}`));
  });
});
