/** register-staged-tables handler: parse the Glue Job State Change, call the use case. */
import type { Deps } from '../../shared/deps.js';
import { describeZodError, GlueJobStateChangeSchema } from '../../shared/events/schemas.js';
import { alertInvalidEvent } from '../../shared/use-cases/alerts.js';
import { makeRegisterStagedTables } from '../../shared/use-cases/register-staged-tables.js';

export function makeRegisterStagedTablesHandler(deps: Deps) {
  const register = makeRegisterStagedTables(deps);
  return async function registerStagedTables(event: unknown) {
    const parsed = GlueJobStateChangeSchema.safeParse(event);
    if (!parsed.success) {
      await alertInvalidEvent(deps, 'register-staged-tables', describeZodError(parsed.error), event);
      return { outcome: 'rejected' as const, tables: [] };
    }
    return register(parsed.data.detail);
  };
}
