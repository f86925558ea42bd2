/** An error the operator can act on: what failed, for which snapshot and table, and how to fix it. */
export class PipelineError extends Error {
  constructor(
    message: string,
    readonly details: { snapshotDt?: string; table?: string; stage?: string; fix?: string; cause?: unknown } = {},
  ) {
    super(message);
    this.name = 'PipelineError';
  }

  /** One line for logs and alerts: message, then snapshot/table/fix when known. */
  describe(): string {
    const { snapshotDt, table, fix } = this.details;
    return [this.message, snapshotDt ? `snapshot_dt=${snapshotDt}` : undefined, table ? `table=${table}` : undefined, fix ? `fix: ${fix}` : undefined]
      .filter(Boolean)
      .join(' | ');
  }
}
