/**
 * The Clean Rooms report's directory on AWS: Clean Rooms (configured tables, analysis rules,
 * associations of one membership and their collaboration analysis rules) and Entity Resolution
 * (ID namespaces, schema mappings). Lists page through the SDK paginators to the last page. A
 * service error of a Get call (ThrottlingException once the SDK's retries are spent,
 * AccessDeniedException, …) becomes that item's error; of a List call, the listing's error, which
 * marks every row it would have fed. Anything that is not a service error (a bug) is thrown.
 */
import {
  CleanRoomsServiceException,
  GetConfiguredTableAnalysisRuleCommand,
  GetConfiguredTableAssociationAnalysisRuleCommand,
  GetConfiguredTableAssociationCommand,
  GetConfiguredTableCommand,
  paginateListConfiguredTableAssociations,
  paginateListConfiguredTables,
  type CleanRoomsClient,
  type ConfiguredTableAnalysisRuleType,
  type ConfiguredTableAssociationAnalysisRuleType,
} from '@aws-sdk/client-cleanrooms';
import {
  EntityResolutionServiceException,
  GetIdNamespaceCommand,
  GetSchemaMappingCommand,
  paginateListIdNamespaces,
  paginateListSchemaMappings,
  type EntityResolutionClient,
} from '@aws-sdk/client-entityresolution';
import {
  failed,
  fetched,
  type AssociationAnalysisRule,
  type AssociationItem,
  type ConfiguredTableItem,
  type Fetched,
  type GlueTableRef,
  type IdNamespaceItem,
  type Listed,
  type SchemaMappingItem,
  type TableAnalysisRule,
} from '../../domain/cleanrooms-report.js';
import type { DirectoryMethod } from '../../domain/access.js';
import { AccessDeniedError } from '../../ports.js';
import type { CleanRoomsDirectory } from '../../use-cases/cleanrooms-report.js';
import type { AwsResources } from './aws-resources.js';

const arn = (service: string, resource: string) => (r: AwsResources) => `arn:${r.partition}:${service}:${r.region}:${r.accountId}:${resource}`;
/** List calls with no resource type in IAM's reference are authorised on "*". */
const anyResource = () => '*';

/** The actions behind each method, each on the kind of resource it reads (an example ARN of this account). */
export const CLEANROOMS_ACTIONS: Record<DirectoryMethod, Array<[string, (r: AwsResources) => string]>> = {
  configuredTables: [
    ['cleanrooms:ListConfiguredTables', anyResource],
    ['cleanrooms:GetConfiguredTable', arn('cleanrooms', 'configuredtable/example')],
    ['cleanrooms:GetConfiguredTableAnalysisRule', arn('cleanrooms', 'configuredtable/example')],
  ],
  associations: [
    ['cleanrooms:ListConfiguredTableAssociations', arn('cleanrooms', 'membership/example')],
    ['cleanrooms:GetConfiguredTableAssociation', arn('cleanrooms', 'membership/example/configuredtableassociation/example')],
    ['cleanrooms:GetConfiguredTableAssociationAnalysisRule', arn('cleanrooms', 'membership/example/configuredtableassociation/example')],
  ],
  idNamespaces: [
    ['entityresolution:ListIdNamespaces', anyResource],
    ['entityresolution:GetIdNamespace', arn('entityresolution', 'idnamespace/example')],
  ],
  schemaMappings: [
    ['entityresolution:ListSchemaMappings', anyResource],
    ['entityresolution:GetSchemaMapping', arn('entityresolution', 'schemamapping/example')],
  ],
};

/** An error the service answered (or the SDK raised for a call), as opposed to a bug in this code. */
function isServiceError(err: unknown): err is Error {
  if (err instanceof AccessDeniedError) return true;
  if (err instanceof CleanRoomsServiceException || err instanceof EntityResolutionServiceException) return true;
  const e = err as { $fault?: unknown; $metadata?: unknown } | undefined;
  return typeof e === 'object' && e !== null && (typeof e.$fault === 'string' || typeof e.$metadata === 'object');
}

const describe = (call: string, err: Error) => `${call}: ${err.name}: ${err.message}`;

/** The call's result, or its service error as a value. */
async function attempt<T>(call: string, fn: () => Promise<T>): Promise<Fetched<T>> {
  try {
    return fetched(await fn());
  } catch (err) {
    if (isServiceError(err)) return failed(describe(call, err));
    throw err;
  }
}

/** Every item of every page; a failing page ends the listing with its error and the items read before it. */
async function listAll<P, T>(call: string, pages: AsyncIterable<P>, itemsOf: (page: P) => T[] | undefined): Promise<{ items: T[]; error?: string }> {
  const items: T[] = [];
  try {
    for await (const page of pages) items.push(...(itemsOf(page) ?? []));
    return { items };
  } catch (err) {
    if (isServiceError(err)) return { items, error: describe(call, err) };
    throw err;
  }
}

/** Maps with at most `limit` calls in flight (Clean Rooms' per-account request rates are low). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface AwsCleanRoomsDirectoryOptions {
  /** Get calls in flight at once (default 4). */
  concurrency?: number;
}

export class AwsCleanRoomsDirectory implements CleanRoomsDirectory {
  private readonly concurrency: number;

  constructor(
    private readonly cleanrooms: CleanRoomsClient,
    private readonly entityResolution: EntityResolutionClient,
    options: AwsCleanRoomsDirectoryOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 4;
  }

  async configuredTables(): Promise<Listed<ConfiguredTableItem>> {
    const listed = await listAll('ListConfiguredTables', paginateListConfiguredTables({ client: this.cleanrooms }, {}), (p) => p.configuredTableSummaries);
    const items = await mapLimit(listed.items, this.concurrency, async (s): Promise<ConfiguredTableItem> => {
      const id = s.id ?? '';
      const analysisRuleTypes = s.analysisRuleTypes ?? [];
      const glue = await attempt(`GetConfiguredTable ${id}`, async (): Promise<GlueTableRef | undefined> => {
        const out = await this.cleanrooms.send(new GetConfiguredTableCommand({ configuredTableIdentifier: id }));
        const ref = out.configuredTable?.tableReference?.glue;
        return ref ? { database: ref.databaseName ?? '', table: ref.tableName ?? '', ...(ref.region ? { region: ref.region } : {}) } : undefined;
      });
      // Clean Rooms allows one analysis rule per configured table.
      const type = analysisRuleTypes[0];
      const analysisRule = type ? await attempt(`GetConfiguredTableAnalysisRule ${id} ${type}`, () => this.tableRule(id, type)) : undefined;
      return { id, name: s.name ?? id, analysisRuleTypes, glue, ...(analysisRule ? { analysisRule } : {}) };
    });
    return { items, ...(listed.error ? { error: listed.error } : {}) };
  }

  private async tableRule(id: string, type: ConfiguredTableAnalysisRuleType): Promise<TableAnalysisRule> {
    const out = await this.cleanrooms.send(new GetConfiguredTableAnalysisRuleCommand({ configuredTableIdentifier: id, analysisRuleType: type }));
    const rule = out.analysisRule;
    const custom = rule?.policy?.v1?.custom;
    return { type: rule?.type ?? type, allowedAnalyses: custom?.allowedAnalyses ?? [], allowedAnalysisProviders: custom?.allowedAnalysisProviders ?? [] };
  }

  async associations(membershipId: string): Promise<Listed<AssociationItem>> {
    const listed = await listAll(
      `ListConfiguredTableAssociations ${membershipId}`,
      paginateListConfiguredTableAssociations({ client: this.cleanrooms }, { membershipIdentifier: membershipId }),
      (p) => p.configuredTableAssociationSummaries,
    );
    const items = await mapLimit(listed.items, this.concurrency, async (s): Promise<AssociationItem> => {
      const id = s.id ?? '';
      const base = { id, name: s.name ?? id, configuredTableId: s.configuredTableId ?? '' };
      // The summary may leave out the rule types; the association itself has them.
      let types: Fetched<ConfiguredTableAssociationAnalysisRuleType[]> = fetched(s.analysisRuleTypes ?? []);
      if (!s.analysisRuleTypes) {
        types = await attempt(`GetConfiguredTableAssociation ${id}`, async () => {
          const out = await this.cleanrooms.send(
            new GetConfiguredTableAssociationCommand({ membershipIdentifier: membershipId, configuredTableAssociationIdentifier: id }),
          );
          return out.configuredTableAssociation?.analysisRuleTypes ?? [];
        });
      }
      if (!types.ok) return { ...base, analysisRule: types };
      const type = types.value[0];
      if (!type) return base;
      return {
        ...base,
        analysisRule: await attempt(`GetConfiguredTableAssociationAnalysisRule ${id} ${type}`, () => this.associationRule(membershipId, id, type)),
      };
    });
    return { items, ...(listed.error ? { error: listed.error } : {}) };
  }

  private async associationRule(membershipId: string, id: string, type: ConfiguredTableAssociationAnalysisRuleType): Promise<AssociationAnalysisRule> {
    const out = await this.cleanrooms.send(
      new GetConfiguredTableAssociationAnalysisRuleCommand({
        membershipIdentifier: membershipId,
        configuredTableAssociationIdentifier: id,
        analysisRuleType: type,
      }),
    );
    const v1 = out.analysisRule?.policy?.v1;
    const rule = v1?.custom ?? v1?.aggregation ?? v1?.list;
    return {
      type: out.analysisRule?.type ?? type,
      allowedResultReceivers: rule?.allowedResultReceivers ?? [],
      allowedAdditionalAnalyses: rule?.allowedAdditionalAnalyses ?? [],
    };
  }

  async idNamespaces(): Promise<Listed<IdNamespaceItem>> {
    const listed = await listAll('ListIdNamespaces', paginateListIdNamespaces({ client: this.entityResolution }, {}), (p) => p.idNamespaceSummaries);
    const items = await mapLimit(listed.items, this.concurrency, async (s): Promise<IdNamespaceItem> => {
      const name = s.idNamespaceName ?? '';
      const detail = await attempt(`GetIdNamespace ${name}`, async () => {
        const out = await this.entityResolution.send(new GetIdNamespaceCommand({ idNamespaceName: name }));
        return {
          ...(out.type ? { type: out.type } : {}),
          methods: (out.idMappingWorkflowProperties ?? []).map((w) => w.idMappingType ?? '').filter(Boolean),
          inputSources: (out.inputSourceConfig ?? []).map((i) => ({
            inputSourceARN: i.inputSourceARN ?? '',
            ...(i.schemaName ? { schemaName: i.schemaName } : {}),
          })),
        };
      });
      return { name, detail };
    });
    return { items, ...(listed.error ? { error: listed.error } : {}) };
  }

  async schemaMappings(): Promise<Listed<SchemaMappingItem>> {
    const listed = await listAll('ListSchemaMappings', paginateListSchemaMappings({ client: this.entityResolution }, {}), (p) => p.schemaList);
    const items = await mapLimit(listed.items, this.concurrency, async (s): Promise<SchemaMappingItem> => {
      const name = s.schemaName ?? '';
      const detail = await attempt(`GetSchemaMapping ${name}`, async () => {
        const out = await this.entityResolution.send(new GetSchemaMappingCommand({ schemaName: name }));
        return {
          fields: (out.mappedInputFields ?? []).map((f) => ({
            fieldName: f.fieldName ?? '',
            type: f.type ?? '',
            ...(f.matchKey ? { matchKey: f.matchKey } : {}),
            ...(f.groupName ? { groupName: f.groupName } : {}),
            ...(f.hashed !== undefined ? { hashed: f.hashed } : {}),
          })),
        };
      });
      return { name, detail };
    });
    return { items, ...(listed.error ? { error: listed.error } : {}) };
  }
}
