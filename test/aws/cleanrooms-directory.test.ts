// AwsCleanRoomsDirectory against mocked Clean Rooms and Entity Resolution clients: every page of
// every list read (NextToken followed), a throttled Get marks only its item, a denied List marks the
// listing; then the report through its Lambda entry on in-memory S3 and Glue.
import {
  AccessDeniedException,
  CleanRoomsClient,
  GetConfiguredTableAnalysisRuleCommand,
  GetConfiguredTableAssociationAnalysisRuleCommand,
  GetConfiguredTableAssociationCommand,
  GetConfiguredTableCommand,
  ListConfiguredTableAssociationsCommand,
  ListConfiguredTablesCommand,
  ThrottlingException,
} from '@aws-sdk/client-cleanrooms';
import {
  AccessDeniedException as ErAccessDenied,
  EntityResolutionClient,
  GetIdNamespaceCommand,
  GetSchemaMappingCommand,
  ListIdNamespacesCommand,
  ListSchemaMappingsCommand,
  ThrottlingException as ErThrottling,
} from '@aws-sdk/client-entityresolution';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { parse } from 'csv-parse/sync';
import { AwsCleanRoomsDirectory } from '../../shared/adapters/aws/cleanrooms-directory.js';
import { tableInput } from '../../shared/adapters/aws/glue-catalog.js';
import { settingsFromEnv } from '../../shared/composition/aws.js';
import type { CleanroomsReport } from '../../shared/domain/cleanrooms-report.js';
import { fakeGlue } from './fake-glue.js';
import { fakeS3 } from './fake-s3.js';

const cleanrooms = mockClient(CleanRoomsClient);
const er = mockClient(EntityResolutionClient);
const directory = new AwsCleanRoomsDirectory(new CleanRoomsClient({ region: 'us-east-1' }), new EntityResolutionClient({ region: 'us-east-1' }));
const MEMBERSHIP = '8c9a1f7e-0d2b-4c55-9e1a-3f6b2d7c4a10';
const now = new Date('2025-11-09T08:00:00Z');
const throttled = () => new ThrottlingException({ $metadata: { httpStatusCode: 429 }, message: 'Rate exceeded' });
const denied = () => new AccessDeniedException({ $metadata: { httpStatusCode: 403 }, message: 'not authorized to perform: cleanrooms:ListConfiguredTables' });
const summary = (t: string, types: Array<'CUSTOM' | 'LIST' | 'AGGREGATION'> = ['CUSTOM']) => ({
  id: `ct-${t}`,
  arn: `arn:aws:cleanrooms:us-east-1:111122223333:configuredtable/ct-${t}`,
  name: t,
  createTime: now,
  updateTime: now,
  analysisRuleTypes: types,
  analysisMethod: 'DIRECT_QUERY' as const,
});
const configuredTable = (t: string, database = 'flywheel_dev') => ({
  configuredTable: {
    ...summary(t),
    tableReference: { glue: { databaseName: database, tableName: t, region: 'us-east-1' as const } },
    allowedColumns: ['customer_user_id'],
  },
});
const customRule = (id: string, providers: string[]) => ({
  analysisRule: {
    configuredTableId: id,
    configuredTableArn: 'a',
    type: 'CUSTOM' as const,
    createTime: now,
    updateTime: now,
    policy: { v1: { custom: { allowedAnalyses: ['ANY_QUERY'], allowedAnalysisProviders: providers } } },
  },
});

/**
 * Answers a List command page by page (by the nextToken sent; '' for the first page) and records the
 * token of each call as it is sent: the SDK paginator reuses one input object, so the inputs the mock
 * keeps all show the last token.
 */
function paged<O>(
  mock: { on: (command: never) => { callsFake: (fn: (input: { nextToken?: string }) => unknown) => unknown } },
  command: unknown,
  pages: Record<string, O>,
): Array<string | undefined> {
  const sent: Array<string | undefined> = [];
  mock.on(command as never).callsFake((input) => {
    sent.push(input.nextToken);
    const page = pages[input.nextToken ?? ''];
    if (!page) throw new Error(`no page for token ${input.nextToken}`);
    return page;
  });
  return sent;
}

/** Three configured tables over two pages; each Get answered from its input. */
function twoPagesOfTables(tables = ['part_a', 'part_b', 'part_c']) {
  const sent = paged(cleanrooms, ListConfiguredTablesCommand, {
    '': { configuredTableSummaries: tables.slice(0, 2).map((t) => summary(t)), nextToken: 'page-2' },
    'page-2': { configuredTableSummaries: tables.slice(2).map((t) => summary(t)) },
  });
  cleanrooms.on(GetConfiguredTableCommand).callsFake((i: { configuredTableIdentifier: string }) => configuredTable(i.configuredTableIdentifier.slice(3)));
  cleanrooms
    .on(GetConfiguredTableAnalysisRuleCommand)
    .callsFake((i: { configuredTableIdentifier: string }) => customRule(i.configuredTableIdentifier, ['111122223333']));
  return sent;
}

beforeEach(() => {
  cleanrooms.reset();
  er.reset();
});

describe('configured tables', () => {
  test('every page is read, following nextToken; each table read with its rule', async () => {
    const sent = twoPagesOfTables();
    const listed = await directory.configuredTables();
    expect(cleanrooms).toHaveReceivedCommandTimes(ListConfiguredTablesCommand, 2);
    expect(sent).toEqual([undefined, 'page-2']);
    expect(listed.error).toBeUndefined();
    expect(listed.items.map((i) => i.name)).toEqual(['part_a', 'part_b', 'part_c']);
    expect(listed.items[2]).toEqual({
      id: 'ct-part_c',
      name: 'part_c',
      analysisRuleTypes: ['CUSTOM'],
      glue: { ok: true, value: { database: 'flywheel_dev', table: 'part_c', region: 'us-east-1' } },
      analysisRule: { ok: true, value: { type: 'CUSTOM', allowedAnalyses: ['ANY_QUERY'], allowedAnalysisProviders: ['111122223333'] } },
    });
    expect(cleanrooms).toHaveReceivedCommandWith(GetConfiguredTableAnalysisRuleCommand, { configuredTableIdentifier: 'ct-part_b', analysisRuleType: 'CUSTOM' });
    expect(cleanrooms).toHaveReceivedCommandTimes(GetConfiguredTableAnalysisRuleCommand, 3);
  });

  test('a throttled Get marks only its table', async () => {
    twoPagesOfTables();
    cleanrooms.on(GetConfiguredTableAnalysisRuleCommand, { configuredTableIdentifier: 'ct-part_b' }).rejects(throttled());
    const listed = await directory.configuredTables();
    const byName = Object.fromEntries(listed.items.map((i) => [i.name, i]));
    expect(byName.part_b!.analysisRule).toEqual({ ok: false, error: 'GetConfiguredTableAnalysisRule ct-part_b CUSTOM: ThrottlingException: Rate exceeded' });
    expect(byName.part_a!.analysisRule?.ok).toBe(true);
    expect(byName.part_c!.analysisRule?.ok).toBe(true);
    expect(byName.part_b!.glue.ok).toBe(true);
  });

  test('a table without an analysis rule is not asked for one', async () => {
    cleanrooms.on(ListConfiguredTablesCommand).resolves({ configuredTableSummaries: [summary('part_a', [])] });
    cleanrooms.on(GetConfiguredTableCommand).resolves(configuredTable('part_a'));
    const listed = await directory.configuredTables();
    expect(listed.items[0]).not.toHaveProperty('analysisRule');
    expect(cleanrooms).not.toHaveReceivedCommand(GetConfiguredTableAnalysisRuleCommand);
  });

  test("a denied List is the listing's error (the pages read before it kept); nothing is thrown", async () => {
    cleanrooms.on(ListConfiguredTablesCommand).rejects(denied());
    expect(await directory.configuredTables()).toEqual({
      items: [],
      error: 'ListConfiguredTables: AccessDeniedException: not authorized to perform: cleanrooms:ListConfiguredTables',
    });
    expect(cleanrooms).not.toHaveReceivedCommand(GetConfiguredTableCommand);

    cleanrooms.reset();
    twoPagesOfTables();
    cleanrooms.on(ListConfiguredTablesCommand, { nextToken: 'page-2' }).rejects(throttled()); // matched when sent
    const partial = await directory.configuredTables();
    expect(partial.items.map((i) => i.name)).toEqual(['part_a', 'part_b']);
    expect(partial.error).toBe('ListConfiguredTables: ThrottlingException: Rate exceeded');
  });

  test('an error that is not a service error is a bug and is thrown', async () => {
    cleanrooms.on(ListConfiguredTablesCommand).resolves({ configuredTableSummaries: [summary('part_a')] });
    cleanrooms.on(GetConfiguredTableCommand).rejects(new TypeError('cannot read properties of undefined'));
    await expect(directory.configuredTables()).rejects.toThrow(TypeError);
  });
});

describe('associations', () => {
  test("pages of the membership's associations; rule types read from the association when the summary lacks them", async () => {
    const assoc = (t: string, types?: Array<'CUSTOM'>) => ({
      id: `cta-${t}`,
      arn: 'a',
      name: t,
      configuredTableId: `ct-${t}`,
      membershipId: MEMBERSHIP,
      membershipArn: 'm',
      createTime: now,
      updateTime: now,
      ...(types ? { analysisRuleTypes: types } : {}),
    });
    const sent = paged(cleanrooms, ListConfiguredTableAssociationsCommand, {
      '': { configuredTableAssociationSummaries: [assoc('part_a', ['CUSTOM'])], nextToken: 't2' },
      t2: { configuredTableAssociationSummaries: [assoc('part_b'), assoc('part_c')] },
    });
    cleanrooms
      .on(GetConfiguredTableAssociationCommand, { configuredTableAssociationIdentifier: 'cta-part_b' })
      .resolves({ configuredTableAssociation: { ...assoc('part_b', ['CUSTOM']), configuredTableArn: 'a', roleArn: 'r' } });
    cleanrooms.on(GetConfiguredTableAssociationCommand, { configuredTableAssociationIdentifier: 'cta-part_c' }).rejects(throttled());
    cleanrooms.on(GetConfiguredTableAssociationAnalysisRuleCommand).resolves({
      analysisRule: {
        membershipIdentifier: MEMBERSHIP,
        configuredTableAssociationId: 'x',
        configuredTableAssociationArn: 'a',
        type: 'CUSTOM',
        createTime: now,
        updateTime: now,
        policy: { v1: { custom: { allowedResultReceivers: ['444455556666'] } } },
      },
    });
    const listed = await directory.associations(MEMBERSHIP);
    expect(sent).toEqual([undefined, 't2']);
    expect(cleanrooms).toHaveReceivedCommandWith(ListConfiguredTableAssociationsCommand, { membershipIdentifier: MEMBERSHIP });
    expect(cleanrooms).toHaveReceivedCommandTimes(GetConfiguredTableAssociationCommand, 2); // not for part_a, whose summary had the types
    expect(cleanrooms).toHaveReceivedCommandWith(GetConfiguredTableAssociationAnalysisRuleCommand, {
      membershipIdentifier: MEMBERSHIP,
      configuredTableAssociationIdentifier: 'cta-part_b',
      analysisRuleType: 'CUSTOM',
    });
    expect(listed.items.map((i) => [i.configuredTableId, i.analysisRule])).toEqual([
      ['ct-part_a', { ok: true, value: { type: 'CUSTOM', allowedResultReceivers: ['444455556666'], allowedAdditionalAnalyses: [] } }],
      ['ct-part_b', { ok: true, value: { type: 'CUSTOM', allowedResultReceivers: ['444455556666'], allowedAdditionalAnalyses: [] } }],
      ['ct-part_c', { ok: false, error: 'GetConfiguredTableAssociation cta-part_c: ThrottlingException: Rate exceeded' }],
    ]);
  });
});

describe('Entity Resolution', () => {
  test('ID namespaces and schema mappings: every page, each read; a throttled read marks only its item', async () => {
    const namespaceTokens = paged(er, ListIdNamespacesCommand, {
      '': { idNamespaceSummaries: [{ idNamespaceName: 'ns-a', idNamespaceArn: 'a', type: 'SOURCE', createdAt: now, updatedAt: now }], nextToken: 'n2' },
      n2: { idNamespaceSummaries: [{ idNamespaceName: 'ns-b', idNamespaceArn: 'b', type: 'TARGET', createdAt: now, updatedAt: now }] },
    });
    er.on(GetIdNamespaceCommand, { idNamespaceName: 'ns-a' }).resolves({
      idNamespaceName: 'ns-a',
      idNamespaceArn: 'a',
      type: 'SOURCE',
      createdAt: now,
      updatedAt: now,
      inputSourceConfig: [{ inputSourceARN: 'arn:aws:glue:us-east-1:111122223333:table/flywheel_dev/part_a_er', schemaName: 'schema-1' }],
      idMappingWorkflowProperties: [{ idMappingType: 'RULE_BASED', ruleBasedProperties: { rules: [{ ruleName: 'r', matchingKeys: ['email'] }] } }],
    });
    er.on(GetIdNamespaceCommand, { idNamespaceName: 'ns-b' }).rejects(new ErThrottling({ $metadata: {}, message: 'Rate exceeded' }));
    const mappingTokens = paged(er, ListSchemaMappingsCommand, {
      '': { schemaList: [{ schemaName: 'schema-1', schemaArn: 's', createdAt: now, updatedAt: now, hasWorkflows: true }], nextToken: 's2' },
      s2: { schemaList: [{ schemaName: 'schema-2', schemaArn: 's', createdAt: now, updatedAt: now, hasWorkflows: false }] },
    });
    er.on(GetSchemaMappingCommand, { schemaName: 'schema-1' }).resolves({
      schemaName: 'schema-1',
      schemaArn: 's',
      createdAt: now,
      updatedAt: now,
      hasWorkflows: true,
      mappedInputFields: [
        { fieldName: 'row_id', type: 'UNIQUE_ID' },
        { fieldName: 'email', type: 'EMAIL_ADDRESS', matchKey: 'EMAIL', hashed: false },
      ],
    });
    er.on(GetSchemaMappingCommand, { schemaName: 'schema-2' }).rejects(new ErAccessDenied({ $metadata: {}, message: 'denied' }));

    const namespaces = await directory.idNamespaces();
    expect(namespaceTokens).toEqual([undefined, 'n2']);
    expect(namespaces.items).toEqual([
      {
        name: 'ns-a',
        detail: {
          ok: true,
          value: {
            type: 'SOURCE',
            methods: ['RULE_BASED'],
            inputSources: [{ inputSourceARN: 'arn:aws:glue:us-east-1:111122223333:table/flywheel_dev/part_a_er', schemaName: 'schema-1' }],
          },
        },
      },
      { name: 'ns-b', detail: { ok: false, error: 'GetIdNamespace ns-b: ThrottlingException: Rate exceeded' } },
    ]);
    const mappings = await directory.schemaMappings();
    expect(mappingTokens).toEqual([undefined, 's2']);
    expect(mappings.items).toEqual([
      {
        name: 'schema-1',
        detail: {
          ok: true,
          value: {
            fields: [
              { fieldName: 'row_id', type: 'UNIQUE_ID' },
              { fieldName: 'email', type: 'EMAIL_ADDRESS', matchKey: 'EMAIL', hashed: false },
            ],
          },
        },
      },
      { name: 'schema-2', detail: { ok: false, error: 'GetSchemaMapping schema-2: AccessDeniedException: denied' } },
    ]);
  });

  test("a denied ListIdNamespaces is the listing's error", async () => {
    er.on(ListIdNamespacesCommand).rejects(new ErAccessDenied({ $metadata: { httpStatusCode: 403 }, message: 'denied' }));
    expect(await directory.idNamespaces()).toEqual({ items: [], error: 'ListIdNamespaces: AccessDeniedException: denied' });
  });
});

describe('through the Lambda entry, on in-memory S3 and Glue', () => {
  const s3 = fakeS3();
  const glue = fakeGlue();
  const sns = mockClient(SNSClient);
  const context = { functionName: 'fn', awsRequestId: 'req', getRemainingTimeInMillis: () => 60000 } as never;
  const tables = ['part_a', 'part_b', 'part_c', 'part_d'];

  beforeAll(() => {
    Object.assign(process.env, {
      GLUE_DATABASE: 'flywheel_dev',
      ANALYSIS_BUCKET: 'analysis',
      AWS_REGION: 'us-east-1',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      CLEANROOMS_MEMBERSHIP_ID: MEMBERSHIP,
    });
    // whatever else aws.ts requires: placeholder values (this test reads none of them)
    for (;;) {
      try {
        settingsFromEnv(process.env);
        break;
      } catch (e) {
        const missing = /environment variable (\w+) is not set/.exec(String(e))?.[1];
        if (!missing || process.env[missing]) throw e;
        process.env[missing] = missing.endsWith('_ARN') ? 'arn:aws:sns:us-east-1:000000000000:alerts' : 'x';
      }
    }
    for (const t of [...tables, 'ext_a'])
      glue.tables.set(`flywheel_dev.${t}`, tableInput({ name: t, location: `s3://data/${t}/`, columns: [], partitionKeys: [], parameters: {} }));
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
  });

  test('the schedule writes JSON and both CSVs under cleanrooms-reports/; the throttled row is failed and e-mailed once', async () => {
    // part_a..c configured (part_c's rule read throttled), part_d not; all three associated with receivers
    twoPagesOfTables();
    cleanrooms.on(GetConfiguredTableAnalysisRuleCommand, { configuredTableIdentifier: 'ct-part_c' }).rejects(throttled());
    cleanrooms.on(ListConfiguredTableAssociationsCommand).resolves({
      configuredTableAssociationSummaries: ['part_a', 'part_b', 'part_c'].map((t) => ({
        id: `cta-${t}`,
        arn: 'a',
        name: t,
        configuredTableId: `ct-${t}`,
        membershipId: MEMBERSHIP,
        membershipArn: 'm',
        createTime: now,
        updateTime: now,
        analysisRuleTypes: [],
      })),
    });
    er.on(ListIdNamespacesCommand).resolves({ idNamespaceSummaries: [] });
    er.on(ListSchemaMappingsCommand).resolves({ schemaList: [] });
    const scheduled = (await import('../../events/scheduled-event.cleanrooms-report.json', { with: { type: 'json' } })).default;
    const { handler } = await import('../../services/cleanrooms-report/handler.js');

    const summary = (await handler(scheduled, context)) as { status: string; reportUri: string };
    expect(summary.status).toBe('SUCCEEDED_WITH_FAILED_ROWS');
    expect(cleanrooms).toHaveReceivedCommandWith(ListConfiguredTableAssociationsCommand, { membershipIdentifier: MEMBERSHIP });
    const keys = s3.keys('analysis', 'cleanrooms-reports/').sort();
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^cleanrooms-reports\/ACX_Cleanroom_Report_\d{8}_\d{6}\.json$/);
    const report = JSON.parse(s3.text('analysis', keys[0]!)!) as CleanroomsReport;
    expect(report.tables.map((t) => [t.table, t.ready_for_analysis])).toEqual([
      ['part_a', 'Yes'],
      ['part_b', 'Yes'],
      ['part_c', 'Unknown'],
      ['part_d', 'No'],
    ]);
    const csv = parse(s3.text('analysis', keys.find((k) => k.endsWith('_Tables.csv'))!)!) as string[][];
    expect(csv).toHaveLength(tables.length + 1);
    expect(csv.find((r) => r[0] === 'part_c')![6]).toContain('ThrottlingException: Rate exceeded');
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    const mail = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(mail.Subject).toContain('1 failed row(s)');
    expect(mail.Message).toContain('table part_c: GetConfiguredTableAnalysisRule ct-part_c CUSTOM: ThrottlingException: Rate exceeded');
    expect(mail.Message).toContain(`Report: s3://analysis/${keys[0]}`);
  });
});
