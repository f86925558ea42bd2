/**
 * The Clean Rooms report's directory in local mode: a JSON file describing the account's Clean Rooms
 * configured tables and associations and its Entity Resolution ID namespaces and schema mappings
 * (there is no local Clean Rooms). Read on every call, validated with zod.
 *
 * Format (every key but the lists' items optional; ids and names free text):
 * {
 *   "membershipId": "…",                      // membership of associations that name none
 *   "configuredTables": [{
 *     "id": "ct-…", "name": "part_ibe_01a",
 *     "glue": { "database": "flywheel", "table": "part_ibe_01a", "region": "us-east-1" },
 *     "analysisRule": { "type": "CUSTOM" | "AGGREGATION" | "LIST",
 *                       "allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": ["111122223333"] },
 *     "error": "…",                             // simulates GetConfiguredTable failing with this message
 *     "analysisRuleError": "…"                  // simulates GetConfiguredTableAnalysisRule failing (needs analysisRule)
 *   }],
 *   "associations": [{
 *     "id": "cta-…", "name": "…", "configuredTableId": "ct-…", "membershipId": "…",
 *     "analysisRule": { "type": "CUSTOM", "allowedResultReceivers": ["111122223333"], "allowedAdditionalAnalyses": [] },
 *     "error": "…"                              // simulates reading the association / its rule failing
 *   }],
 *   "idNamespaces": [{
 *     "name": "…", "type": "SOURCE" | "TARGET", "methods": ["RULE_BASED" | "PROVIDER"],
 *     "inputSources": [{ "inputSourceARN": "arn:aws:glue:<region>:<account>:table/<database>/<table>", "schemaName": "…" }],
 *     "error": "…"                              // simulates GetIdNamespace failing
 *   }],
 *   "schemaMappings": [{
 *     "name": "…", "mappedInputFields": [{ "fieldName": "row_id", "type": "UNIQUE_ID", "matchKey": "…" }],
 *     "error": "…"                              // simulates GetSchemaMapping failing
 *   }],
 *   "listErrors": { "configuredTables": "…", "associations": "…", "idNamespaces": "…", "schemaMappings": "…" }
 *                                               // simulates a List call failing: nothing of that list is read
 * }
 * An error message reads like the AWS one, e.g. "ThrottlingException: Rate exceeded".
 */
import { promises as fs } from 'node:fs';
import { z } from 'zod';
import {
  failed,
  fetched,
  type AssociationItem,
  type ConfiguredTableItem,
  type IdNamespaceItem,
  type Listed,
  type SchemaMappingItem,
} from '../../domain/cleanrooms-report.js';
import type { CleanRoomsDirectory } from '../../use-cases/cleanrooms-report.js';

const accountIds = z.array(z.string().min(1)).default([]);
const error = z.string().min(1).optional();

const ConfiguredTableSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1),
    glue: z
      .object({ database: z.string().min(1), table: z.string().min(1), region: z.string().optional() })
      .strict()
      .optional(),
    analysisRule: z
      .object({ type: z.enum(['CUSTOM', 'AGGREGATION', 'LIST']), allowedAnalyses: z.array(z.string()).default([]), allowedAnalysisProviders: accountIds })
      .strict()
      .optional(),
    error,
    analysisRuleError: error,
  })
  .strict()
  .refine((t) => !t.analysisRuleError || t.analysisRule, { message: 'analysisRuleError needs an analysisRule (its type is what the failed call asked for)' });

const AssociationSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().optional(),
    configuredTableId: z.string().min(1),
    membershipId: z.string().min(1).optional(),
    analysisRule: z
      .object({
        type: z.enum(['CUSTOM', 'AGGREGATION', 'LIST']),
        allowedResultReceivers: accountIds,
        allowedAdditionalAnalyses: z.array(z.string()).default([]),
      })
      .strict()
      .optional(),
    error,
  })
  .strict();

const IdNamespaceSchema = z
  .object({
    name: z.string().min(1),
    type: z.enum(['SOURCE', 'TARGET']).optional(),
    methods: z.array(z.enum(['RULE_BASED', 'PROVIDER'])).default([]),
    inputSources: z.array(z.object({ inputSourceARN: z.string().min(1), schemaName: z.string().min(1).optional() }).strict()).default([]),
    error,
  })
  .strict();

const SchemaMappingSchema = z
  .object({
    name: z.string().min(1),
    mappedInputFields: z
      .array(
        z
          .object({
            fieldName: z.string().min(1),
            type: z.string().min(1),
            matchKey: z.string().optional(),
            groupName: z.string().optional(),
            hashed: z.boolean().optional(),
          })
          .strict(),
      )
      .default([]),
    error,
  })
  .strict();

/** The description file's schema (see the format above). */
export const CleanroomsDescriptionSchema = z
  .object({
    membershipId: z.string().min(1).optional(),
    configuredTables: z.array(ConfiguredTableSchema).default([]),
    associations: z.array(AssociationSchema).default([]),
    idNamespaces: z.array(IdNamespaceSchema).default([]),
    schemaMappings: z.array(SchemaMappingSchema).default([]),
    listErrors: z.object({ configuredTables: error, associations: error, idNamespaces: error, schemaMappings: error }).strict().default({}),
  })
  .strict();

export type CleanroomsDescription = z.input<typeof CleanroomsDescriptionSchema>;
type Description = z.output<typeof CleanroomsDescriptionSchema>;

const FORMAT_HELP = 'the format is documented in shared/adapters/local/cleanrooms-directory.ts and the README (Clean Rooms report)';

export class LocalCleanRoomsDirectory implements CleanRoomsDirectory {
  constructor(readonly file: string) {}

  /** The validated description; a missing or invalid file is an error naming the file and the fix. */
  async read(): Promise<Description> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(
        missing
          ? `Clean Rooms description ${this.file} does not exist. Fix: write it (${FORMAT_HELP}), or run \`npx flywheel cleanrooms-report\` without --description to generate a sample one for the catalog's tables`
          : `Clean Rooms description ${this.file} cannot be read: ${(err as Error).message}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new Error(`Clean Rooms description ${this.file} is not valid JSON: ${(err as Error).message}. Fix: correct the file (${FORMAT_HELP})`);
    }
    const parsed = CleanroomsDescriptionSchema.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`)
        .join('; ');
      throw new Error(`Clean Rooms description ${this.file} is invalid: ${problems}. Fix: correct the file (${FORMAT_HELP})`);
    }
    return parsed.data;
  }

  async configuredTables(): Promise<Listed<ConfiguredTableItem>> {
    const d = await this.read();
    if (d.listErrors.configuredTables) return { items: [], error: `ListConfiguredTables: ${d.listErrors.configuredTables}` };
    return {
      items: d.configuredTables.map((t) => ({
        id: t.id,
        name: t.name,
        analysisRuleTypes: t.analysisRule ? [t.analysisRule.type] : [],
        glue: t.error ? failed(`GetConfiguredTable ${t.id}: ${t.error}`) : fetched(t.glue),
        ...(t.analysisRule
          ? {
              analysisRule: t.analysisRuleError
                ? failed(`GetConfiguredTableAnalysisRule ${t.id} ${t.analysisRule.type}: ${t.analysisRuleError}`)
                : fetched(t.analysisRule),
            }
          : {}),
      })),
    };
  }

  async associations(membershipId: string): Promise<Listed<AssociationItem>> {
    const d = await this.read();
    if (d.listErrors.associations) return { items: [], error: `ListConfiguredTableAssociations ${membershipId}: ${d.listErrors.associations}` };
    return {
      items: d.associations
        .filter((a) => (a.membershipId ?? d.membershipId) === membershipId)
        .map((a) => ({
          id: a.id,
          name: a.name ?? a.id,
          configuredTableId: a.configuredTableId,
          ...(a.error
            ? { analysisRule: failed(`GetConfiguredTableAssociationAnalysisRule ${a.id}: ${a.error}`) }
            : a.analysisRule
              ? { analysisRule: fetched(a.analysisRule) }
              : {}),
        })),
    };
  }

  async idNamespaces(): Promise<Listed<IdNamespaceItem>> {
    const d = await this.read();
    if (d.listErrors.idNamespaces) return { items: [], error: `ListIdNamespaces: ${d.listErrors.idNamespaces}` };
    return {
      items: d.idNamespaces.map((n) => ({
        name: n.name,
        detail: n.error
          ? failed(`GetIdNamespace ${n.name}: ${n.error}`)
          : fetched({ ...(n.type ? { type: n.type } : {}), methods: n.methods, inputSources: n.inputSources }),
      })),
    };
  }

  async schemaMappings(): Promise<Listed<SchemaMappingItem>> {
    const d = await this.read();
    if (d.listErrors.schemaMappings) return { items: [], error: `ListSchemaMappings: ${d.listErrors.schemaMappings}` };
    return {
      items: d.schemaMappings.map((m) => ({
        name: m.name,
        detail: m.error ? failed(`GetSchemaMapping ${m.name}: ${m.error}`) : fetched({ fields: m.mappedInputFields }),
      })),
    };
  }
}
