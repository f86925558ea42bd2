/** The project's EventBridge bus: PutEvents within the API's limits; any failed entry fails the call. */
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { BusEvent, EventBus } from '../../ports.js';

/** The action behind put (on the bus). */
export const EVENTBRIDGE_ACTIONS = ['events:PutEvents'];

/** PutEvents takes at most 10 entries a request. */
const MAX_ENTRIES = 10;
/** … whose entry sizes must total less than 256 KB. */
const MAX_BYTES = 256 * 1024;

const utf8 = (s: string | undefined) => (s === undefined ? 0 : Buffer.byteLength(s, 'utf8'));
/** Entry size as EventBridge counts it: UTF-8 bytes of Source, DetailType and Detail (no Time or Resources sent here). */
const entrySize = (e: PutEventsRequestEntry) => utf8(e.Source) + utf8(e.DetailType) + utf8(e.Detail);

/** EventBus over EventBridge (the client comes from the composition root). */
export class EventBridgeBus implements EventBus {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly options: { busName: string },
  ) {}

  /** Sends the events in order, in requests of ≤10 entries and <256 KB; throws naming every rejected entry. */
  async put(events: BusEvent[]): Promise<void> {
    const entries = events.map((e) => ({ EventBusName: this.options.busName, Source: e.source, DetailType: e.detailType, Detail: JSON.stringify(e.detail) }));
    const oversized = entries.find((e) => entrySize(e) >= MAX_BYTES);
    if (oversized)
      throw new Error(`event ${oversized.Source} / ${oversized.DetailType} is ${entrySize(oversized)} bytes; EventBridge takes less than ${MAX_BYTES}`);
    for (const batch of batches(entries)) {
      const res = await this.client.send(new PutEventsCommand({ Entries: batch }));
      if (res.FailedEntryCount) {
        // result entries are in request order; a failed one carries ErrorCode / ErrorMessage instead of an EventId
        const failed = (res.Entries ?? []).flatMap((r, i) => (r.ErrorCode ? [`${batch[i]?.DetailType}: ${r.ErrorCode} ${r.ErrorMessage ?? ''}`.trim()] : []));
        throw new Error(`EventBridge bus ${this.options.busName} rejected ${res.FailedEntryCount} event(s): ${failed.join('; ')}`);
      }
    }
  }
}

/** Consecutive batches of ≤10 entries whose sizes total less than 256 KB. */
function batches(entries: PutEventsRequestEntry[]): PutEventsRequestEntry[][] {
  const out: PutEventsRequestEntry[][] = [];
  let current: PutEventsRequestEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = entrySize(e);
    if (current.length === MAX_ENTRIES || bytes + size >= MAX_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
