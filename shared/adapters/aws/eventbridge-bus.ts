/** The project's EventBridge bus: PutEvents in batches of 10 (the API's limit); any failed entry fails the call. */
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { BusEvent, EventBus } from '../../ports.js';

export class EventBridgeBus implements EventBus {
  constructor(private readonly client: EventBridgeClient, private readonly options: { busName: string }) {}

  async put(events: BusEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 10) {
      const batch = events.slice(i, i + 10);
      const res = await this.client.send(
        new PutEventsCommand({ Entries: batch.map((e) => ({ EventBusName: this.options.busName, Source: e.source, DetailType: e.detailType, Detail: JSON.stringify(e.detail) })) }),
      );
      if (res.FailedEntryCount) {
        const failed = (res.Entries ?? []).map((r, j) => (r.ErrorCode ? `${batch[j]?.detailType}: ${r.ErrorCode} ${r.ErrorMessage ?? ''}` : undefined)).filter(Boolean);
        throw new Error(`EventBridge rejected ${res.FailedEntryCount} event(s): ${failed.join('; ')}`);
      }
    }
  }
}
