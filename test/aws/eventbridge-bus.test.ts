// EventBridgeBus against a mocked EventBridge client: entry shape, batches of ≤10 and <256 KB, failed entries.
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { EventBridgeBus } from '../../shared/adapters/aws/eventbridge-bus.js';

const events = mockClient(EventBridgeClient);
const bus = new EventBridgeBus(new EventBridgeClient({ region: 'us-east-1' }), { busName: 'flywheel-dev' });
const event = (i: number, detail: Record<string, unknown> = { i }) => ({ source: 'flywheel.pipeline', detailType: 'Stage Completed', detail });
beforeEach(() => events.reset());

test('each event is one entry on the project bus with its JSON detail; 25 events go in batches of 10, 10, 5', async () => {
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '11710aed-b79e-4468-a20b-bb3c0c3b4860' }] });
  await bus.put(Array.from({ length: 25 }, (_, i) => event(i)));
  const batches = events.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!);
  expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
  expect(batches[0]![0]).toEqual({ EventBusName: 'flywheel-dev', Source: 'flywheel.pipeline', DetailType: 'Stage Completed', Detail: '{"i":0}' });
  expect(batches.flat().map((e) => JSON.parse(e.Detail!).i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
});

test('a batch stays under 256 KB of entries', async () => {
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
  const big = (i: number) => event(i, { i, pad: 'x'.repeat(100 * 1024) });
  await bus.put([big(0), big(1), big(2), big(3), big(4)]);
  expect(events.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!.length)).toEqual([2, 2, 1]);
});

test('an event of 256 KB or more is refused before anything is sent', async () => {
  await expect(bus.put([event(0), event(1, { pad: 'x'.repeat(256 * 1024) })])).rejects.toThrow(/Stage Completed is \d+ bytes/);
  expect(events).not.toHaveReceivedCommand(PutEventsCommand);
});

test('FailedEntryCount > 0 throws, naming the failed entries with their ErrorCode and ErrorMessage', async () => {
  events.on(PutEventsCommand).resolves({
    FailedEntryCount: 1,
    Entries: [{ EventId: 'e-1' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }],
  });
  await expect(bus.put([event(0), { source: 'flywheel.pipeline', detailType: 'Pipeline Completed', detail: {} }])).rejects.toThrow(
    'EventBridge bus flywheel-dev rejected 1 event(s): Pipeline Completed: ThrottlingException Rate exceeded',
  );
});

test('no events, no request', async () => {
  await bus.put([]);
  expect(events).not.toHaveReceivedCommand(PutEventsCommand);
});
