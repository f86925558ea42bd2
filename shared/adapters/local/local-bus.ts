/**
 * The in-process event bus: events are wrapped as EventBridge events and routed with the same
 * patterns as the deployed rules (shared/events/patterns.ts); deferred work (the local Glue job,
 * local Athena queries) queues behind them, so one local run is one process driving the real handlers.
 */
import { randomUUID } from 'node:crypto';
import { matches, s3RecordAsObjectCreated, scheduledFunction, type FunctionName, type Route, type S3NotificationRecord } from '../../events/patterns.js';
import type { BusEvent, Clock, EventBus } from '../../ports.js';

export interface AwsEvent {
  version: string;
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
  'replay-name'?: string;
}

export type Handlers = Partial<Record<FunctionName, (event: unknown) => Promise<unknown>>>;

export interface BusObserver {
  /** Fault injection (tests): events for which this returns true are lost, as EventBridge may lose Glue's. */
  drop?(event: unknown): boolean;
  delivered?(event: unknown, fn: FunctionName | undefined): void;
  /** What the function returned (a Lambda's result: what it did, or what it declined and why). */
  returned?(event: unknown, fn: FunctionName, result: unknown): void;
  failed?(event: unknown, fn: FunctionName, error: Error): void;
}

export class LocalBus implements EventBus {
  private readonly queue: Array<() => Promise<void>> = [];
  private handlers?: Handlers;
  /** Every event put on the bus, in order (for summaries and tests). */
  readonly published: AwsEvent[] = [];

  constructor(
    private readonly routes: Route[],
    private readonly clock: Clock,
    private readonly observer: BusObserver = {},
  ) {}

  /** Handlers are attached after construction: they need the deps that contain this bus. */
  attach(handlers: Handlers): void {
    this.handlers = handlers;
  }

  /** Wraps an AWS-shaped event as EventBridge would deliver it. */
  envelope(source: string, detailType: string, detail: Record<string, unknown>): AwsEvent {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': detailType,
      source,
      account: '000000000000',
      time: this.clock
        .now()
        .toISOString()
        .replace(/\.\d+Z$/, 'Z'),
      region: 'local',
      resources: [],
      detail,
    };
  }

  async put(events: BusEvent[]): Promise<void> {
    for (const e of events) this.deliver(this.envelope(e.source, e.detailType, e.detail));
  }

  /** Queues one event (any AWS shape) for routing. */
  deliver(event: unknown): void {
    this.queue.push(() => this.route(event));
  }

  /** Queues a direct invocation of one function (as `aws lambda invoke` would), bypassing the rules. */
  invoke(fn: FunctionName, payload: unknown): void {
    this.queue.push(() => this.call(fn, payload));
  }

  /** Queues work to run after the events already queued (the local job and query engines use it). */
  defer(task: () => Promise<void>): void {
    this.queue.push(task);
  }

  /** Runs queued events and work until none is left. */
  async drain(): Promise<void> {
    for (let task = this.queue.shift(); task; task = this.queue.shift()) await task();
  }

  private async route(event: unknown): Promise<void> {
    if (this.observer.drop?.(event)) return;
    if (isEventBridge(event)) this.published.push(event);
    const deliveries = this.deliveries(event);
    if (deliveries.length === 0) this.observer.delivered?.(event, undefined);
    for (const [fn, e] of deliveries) await this.call(fn, e);
  }

  private async call(fn: FunctionName, event: unknown): Promise<void> {
    this.observer.delivered?.(event, fn);
    try {
      const handler = this.handlers?.[fn];
      if (!handler) throw new Error(`no local handler is attached for ${fn}`);
      const result = await handler(event);
      this.observer.returned?.(event, fn, result);
    } catch (err) {
      // a Lambda would retry and then dead-letter; locally the failure is reported and the bus goes on
      this.observer.failed?.(event, fn, err as Error);
    }
  }

  /** Functions whose rules match the event (for an S3 notification, any of its records); a Scheduled Event to its rule's function. */
  targets(event: unknown): FunctionName[] {
    return this.deliveries(event).map(([fn]) => fn);
  }

  /**
   * What each function receives. An S3 notification (`Records`, the S3 → Lambda form) is routed record by
   * record exactly as the EventBridge `Object Created` form of the same (decoded) key is: each function
   * gets one notification holding the records its rules match, so a raw landing's marker reaches
   * compaction and a ready marker snapshot-trigger in either form.
   */
  private deliveries(event: unknown): Array<[FunctionName, unknown]> {
    if (isS3Notification(event)) {
      const byFn = new Map<FunctionName, unknown[]>();
      for (const record of event.Records) {
        const asEventBridge = s3RecordAsObjectCreated(record as S3NotificationRecord);
        for (const fn of asEventBridge ? this.matching(asEventBridge) : []) byFn.set(fn, [...(byFn.get(fn) ?? []), record]);
      }
      return [...byFn].map(([fn, records]) => [fn, { ...event, Records: records }]);
    }
    const scheduled = scheduledFunction(event);
    if (scheduled) return [[scheduled, event]];
    return this.matching(event).map((fn) => [fn, event]);
  }

  private matching(event: unknown): FunctionName[] {
    return [...new Set(this.routes.filter((r) => matches(r.pattern, event)).map((r) => r.fn))];
  }
}

function isS3Notification(event: unknown): event is { Records: unknown[] } {
  return typeof event === 'object' && event !== null && Array.isArray((event as { Records?: unknown }).Records);
}

function isEventBridge(event: unknown): event is AwsEvent {
  return typeof event === 'object' && event !== null && 'detail-type' in event;
}
