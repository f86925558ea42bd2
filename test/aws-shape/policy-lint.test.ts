/**
 * The packaged CloudFormation through the linters AWS users run: cfn-lint on the dev and prod
 * templates, and parliament on every IAM policy document in them (intrinsics resolved into the
 * ARNs of one made-up account by cfn-resolve.ts).
 *
 * Both tools come from the project's virtualenv: `node test/aws-shape/python-env.mjs` creates
 * .venv from requirements-aws.txt (npm run test:aws runs it first).
 *
 * A finding fails the test unless serverless.yml explains it, under custom.policyLint.accepted:
 *
 *   custom:
 *     policyLint:
 *       accepted:
 *         - tool: parliament          # or cfn-lint
 *           code: RESOURCE_STAR       # parliament's issue key, or cfn-lint's rule id (W3005)
 *           where: AlertKey/KeyPolicy # a substring of the finding's location (shown in failures)
 *           reason: In a key policy "*" is the key itself; the principals bound who may use it.
 *
 * The list is read from the packaged serverless-state.json (service.custom, variables resolved),
 * so it may use ${sls:stage} and the like. An entry that matches no finding of either stage fails too.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packaged as packageOnce, root } from '../support/packaged.js';
import { listPolicyDocuments, unresolvedParts, type Json, type PolicyDocumentEntry, type Template } from '../support/cfn-resolve.js';

const venvBin = path.join(root, '.venv', 'bin');
const CFN_LINT = path.join(venvBin, 'cfn-lint');
const PYTHON = path.join(venvBin, 'python');
const SETUP = 'node test/aws-shape/python-env.mjs';
// dev-adopt: the dev stack adopting an existing data bucket, analysis bucket and Glue database (serverless-adopt.cjs);
// dev-staged: the dev stack with a separate staged database for the ext_ tables (stagedGlueDatabase)
const STAGES = ['dev', 'prod', 'dev-adopt', 'dev-staged'] as const;
type Stage = (typeof STAGES)[number];
const STAGED_DATABASE = 'existing_staged_example';
const TOOLS = ['cfn-lint', 'parliament'] as const;
type Tool = (typeof TOOLS)[number];

interface Finding {
  tool: Tool;
  stage: Stage;
  /** cfn-lint rule id or parliament issue key. */
  code: string;
  /** cfn-lint: the template path (Resources/X/Properties/...); parliament: <LogicalId>/<policy>/Statement[i](Sid). */
  where: string;
  severity: string;
  message: string;
}

interface Accepted {
  tool: Tool;
  code: string;
  where: string;
  reason: string;
}

interface Packaged {
  dir: string;
  templateFile: string;
  template: Template;
  accepted: Accepted[];
  /** Problems with custom.policyLint.accepted itself. */
  acceptedErrors: string[];
}

/** custom.policyLint.accepted of the packaged service, checked entry by entry. */
function readAccepted(stateFile: string): { accepted: Accepted[]; acceptedErrors: string[] } {
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { service?: { custom?: { policyLint?: { accepted?: unknown } } } };
  const list = state.service?.custom?.policyLint?.accepted;
  if (list === undefined || list === null) return { accepted: [], acceptedErrors: [] };
  if (!Array.isArray(list)) return { accepted: [], acceptedErrors: ['custom.policyLint.accepted is not a list'] };
  const accepted: Accepted[] = [];
  const acceptedErrors: string[] = [];
  list.forEach((entry: unknown, i) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const text = (k: string) => (typeof e[k] === 'string' && (e[k] as string).trim() !== '' ? (e[k] as string) : undefined);
    const [tool, code, where, reason] = [text('tool'), text('code'), text('where'), text('reason')];
    const problems = [
      ...(!tool || !(TOOLS as readonly string[]).includes(tool) ? [`tool must be one of ${TOOLS.join(', ')}`] : []),
      ...(!code ? ['code is missing'] : []),
      ...(!where ? ['where is missing (a logical id or policy location substring)'] : []),
      ...(!reason ? ['reason is missing: an accepted finding says why it is acceptable'] : []),
    ];
    if (problems.length) acceptedErrors.push(`custom.policyLint.accepted[${i}] ${JSON.stringify(entry)}: ${problems.join('; ')}`);
    else accepted.push({ tool: tool as Tool, code: code!, where: where!, reason: reason! });
  });
  return { accepted, acceptedErrors };
}

const packaged = {} as Record<Stage, Packaged>;

function packageStage(stage: Stage): Packaged {
  const { dir } =
    stage === 'dev-adopt'
      ? packageOnce('dev', 'adopt')
      : stage === 'dev-staged'
        ? packageOnce('dev', { stagedGlueDatabase: STAGED_DATABASE })
        : packageOnce(stage);
  const templateFile = path.join(dir, 'cloudformation-template-update-stack.json');
  return { dir, templateFile, template: JSON.parse(readFileSync(templateFile, 'utf8')) as Template, ...readAccepted(path.join(dir, 'serverless-state.json')) };
}

beforeAll(() => {
  for (const tool of [CFN_LINT, PYTHON]) {
    if (!existsSync(tool))
      throw new Error(`${path.relative(root, tool)} is missing: create the project's Python tools first with \`${SETUP}\` (npm run test:aws runs it)`);
  }
  for (const stage of STAGES) packaged[stage] = packageStage(stage);
}, 900_000);

/** The environment of the Python tools: no AWS credentials, nothing from jest. */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', AWS_EC2_METADATA_DISABLED: 'true' };
  for (const name of Object.keys(env)) if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)$/.test(name)) delete env[name];
  delete env.NODE_OPTIONS;
  return env;
}

// --- cfn-lint ---------------------------------------------------------------------------------

interface CfnLintMatch {
  Rule: { Id: string };
  Level: string;
  Message: string;
  Location: { Path?: Array<string | number>; Start?: { LineNumber: number } };
}

function runCfnLint(stage: Stage): Finding[] {
  const { templateFile } = packaged[stage];
  // Exit status is a bit mask of the levels found (2 error, 4 warning, 8 informational); 1 is a crash.
  const r = spawnSync(CFN_LINT, ['--format', 'json', templateFile], { cwd: root, env: toolEnv(), encoding: 'utf8', timeout: 180_000, maxBuffer: 64 << 20 });
  let matches: CfnLintMatch[];
  try {
    if (r.error || r.status === null || (r.status & 1) === 1) throw new Error(`exit ${r.status ?? r.signal}`);
    matches = JSON.parse(r.stdout) as CfnLintMatch[];
  } catch (e) {
    throw new Error(`cfn-lint failed on the ${stage} template (${(r.error ?? (e as Error)).message}):\n${r.stdout}\n${r.stderr}`);
  }
  return matches.map((m) => ({
    tool: 'cfn-lint',
    stage,
    code: m.Rule.Id,
    where: m.Location.Path?.join('/') ?? `line ${m.Location.Start?.LineNumber ?? '?'}`,
    severity: m.Level,
    message: m.Message,
  }));
}

// --- parliament -------------------------------------------------------------------------------

/**
 * parliament through its Python API (its CLI takes one policy per run and has no resource-policy
 * mode; statements with a Principal are checked as such either way). Same defaults as the CLI:
 * minimum severity LOW, parliament's own config, no community auditors. Reads [{where, document}]
 * on stdin; writes [{where, statement, issue, severity, title, detail}].
 */
const PARLIAMENT_RUNNER = `
import json, sys
from parliament import analyze_policy_string, enhance_finding
from parliament.cli import is_finding_filtered
out = []
for item in json.load(sys.stdin):
    policy = analyze_policy_string(json.dumps(item["document"]), item["where"])
    for finding in policy.findings:
        finding = enhance_finding(finding)
        if is_finding_filtered(finding, "LOW"):
            continue
        statement = next((i for i, s in enumerate(policy.statements) if any(f is finding for f in s.findings)), None)
        out.append({"where": item["where"], "statement": statement, "issue": finding.issue, "severity": finding.severity,
                    "title": finding.title, "detail": finding.detail})
json.dump(out, sys.stdout, default=str)
`;

interface ParliamentFinding {
  where: string;
  statement: number | null;
  issue: string;
  severity: string;
  title: string;
  detail: Json;
}

const asArray = (v: Json | undefined): Json[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function statementLabel(entry: PolicyDocumentEntry, index: number | null): string {
  if (index === null) return entry.where;
  const statement = asArray(entry.document.Statement)[index];
  const sid = typeof statement === 'object' && statement !== null && !Array.isArray(statement) && typeof statement.Sid === 'string' ? statement.Sid : '';
  return `${entry.where}/Statement[${index}]${sid ? `(${sid})` : ''}`;
}

const policies = {} as Record<Stage, PolicyDocumentEntry[]>;
const policiesOf = (stage: Stage): PolicyDocumentEntry[] =>
  (policies[stage] ??= listPolicyDocuments(packaged[stage].template, { stackName: `flywheel-${stage.replace(/-(adopt|staged)$/, '')}` }));

function runParliament(stage: Stage): Finding[] {
  const entries = policiesOf(stage);
  const byWhere = new Map(entries.map((e) => [e.where, e]));
  const input = JSON.stringify(entries.map(({ where, document }) => ({ where, document })));
  const r = spawnSync(PYTHON, ['-c', PARLIAMENT_RUNNER], { cwd: root, env: toolEnv(), input, encoding: 'utf8', timeout: 180_000, maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0)
    throw new Error(`parliament failed on the ${stage} policies (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${r.stdout}\n${r.stderr}`);
  return (JSON.parse(r.stdout) as ParliamentFinding[]).map((f) => ({
    tool: 'parliament',
    stage,
    code: f.issue,
    where: statementLabel(byWhere.get(f.where)!, f.statement),
    severity: f.severity,
    message: `${f.title.trim()}${f.detail === '' || f.detail === null ? '' : `: ${typeof f.detail === 'string' ? f.detail : JSON.stringify(f.detail)}`}`,
  }));
}

// --- findings against custom.policyLint.accepted ----------------------------------------------

const findings = new Map<string, Finding[]>();
function findingsOf(tool: Tool, stage: Stage): Finding[] {
  const key = `${tool}:${stage}`;
  if (!findings.has(key)) findings.set(key, tool === 'cfn-lint' ? runCfnLint(stage) : runParliament(stage));
  return findings.get(key)!;
}

const matches = (a: Accepted, f: Finding) => a.tool === f.tool && a.code === f.code && f.where.includes(a.where);
const show = (f: Finding) => `  [${f.stage}] ${f.tool} ${f.code} (${f.severity}) at ${f.where}\n      ${f.message}`;

/** Fails with every finding that serverless.yml does not explain, and lists the explained ones. */
function expectAllAccepted(tool: Tool, stage: Stage): void {
  const { accepted } = packaged[stage];
  const all = findingsOf(tool, stage);
  const open = all.filter((f) => !accepted.some((a) => matches(a, f)));
  if (open.length) {
    const explained = all.length - open.length;
    throw new Error(
      `${tool} reports ${open.length} finding(s) in the ${stage} stack that serverless.yml does not accept` +
        `${explained ? ` (${explained} more accepted)` : ''}.\n` +
        `Fix serverless.yml, or add { tool, code, where, reason } under custom.policyLint.accepted:\n${open.map(show).join('\n')}`,
    );
  }
}

describe.each(STAGES)('packaged %s stack', (stage) => {
  test('cfn-lint: no finding that serverless.yml does not accept', () => {
    expectAllAccepted('cfn-lint', stage);
  }, 240_000);

  test('every IAM policy document resolves to concrete values', () => {
    const entries = policiesOf(stage);
    const kinds = new Set(entries.map((e) => e.resourceType));
    // One of each kind this stack defines, so a policy the listing missed shows up here.
    for (const type of ['AWS::IAM::Role', 'AWS::S3::BucketPolicy', 'AWS::SNS::TopicPolicy', 'AWS::SQS::QueuePolicy', 'AWS::KMS::Key'])
      expect(kinds).toContain(type);
    const leftovers = entries.flatMap((e) => unresolvedParts(e.document).map((p) => `${e.where} ${p}`));
    expect(leftovers).toEqual([]);
    for (const e of entries) expect(asArray(e.document.Statement).length).toBeGreaterThan(0);
  });

  test('parliament: no finding that serverless.yml does not accept, in any IAM policy', () => {
    expectAllAccepted('parliament', stage);
  }, 240_000);
});

test('every entry of custom.policyLint.accepted is well formed and still matches a finding', () => {
  const errors = [...new Set(STAGES.flatMap((s) => packaged[s].acceptedErrors))];
  const stale: string[] = [];
  const seen = new Set<string>();
  for (const stage of STAGES) {
    for (const a of packaged[stage].accepted) {
      const key = JSON.stringify(a);
      if (seen.has(key)) continue;
      seen.add(key);
      const used = STAGES.some((s) => packaged[s].accepted.some((b) => JSON.stringify(b) === key) && findingsOf(a.tool, s).some((f) => matches(a, f)));
      if (!used) stale.push(`  ${key}: matches no ${a.tool} finding in ${STAGES.join(', ')} any more; remove it`);
    }
  }
  expect([...errors, ...stale]).toEqual([]);
}, 480_000);
