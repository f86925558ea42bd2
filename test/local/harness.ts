/** Test harness: a small sample lake in a temp home and a local runtime over it. */
import { jest } from '@jest/globals';
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localRuntime, type LocalOptions, type LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import { generateSampleLake } from '../../shared/local/sample-lake.js';
import { makeLedgerStore } from '../../shared/use-cases/ledger-store.js';

export const RAW = 'omc_cleanroom_data/infobase_attributes/raw_input/';

/**
 * Tests and hooks of a file using this harness run the local pipeline, a few times each on a lake of a few
 * hundred or thousand rows: 2–20 s on an idle 2-core machine, 3–4× that with the machine loaded (load ~6).
 * Jest's 60 s default (the unit tests') would be the first thing to fail under load, not the code.
 */
export const PIPELINE_TEST_TIMEOUT_MS = 240_000;
jest.setTimeout(PIPELINE_TEST_TIMEOUT_MS);

/** Runs `body` with the environment variable `name` set to `value` (undefined: unset), then restores it. */
export async function withEnv<T>(name: string, value: string | undefined, body: () => Promise<T>): Promise<T> {
  const saved = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

/** A fresh home with a sample lake of `rows` rows per source table (snapshots 2025-09-30 and 2025-10-31). */
export async function sampleHome(rows = 3000, addressable = false): Promise<string> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-test-'));
  await generateSampleLake(path.join(home, 'lake'), { rows, snapshots: ['2025-09-30', '2025-10-31'], addressable });
  return home;
}

export async function open(home: string, options: Partial<LocalOptions> = {}): Promise<LocalRuntime> {
  return localRuntime({ home, ...options });
}

const templates = new Map<number, Promise<string>>();

/**
 * A fresh home whose sample lake (`rows` rows per source table) has snapshot 2025-09-30 live, 2025-10-31 not yet
 * run. The first call of a test file runs the pipeline once into a template home; every call copies it (lake,
 * catalog, ledgers) and points the copy's catalog views at its own lake.
 */
export async function liveHome(rows = 400): Promise<string> {
  let template = templates.get(rows);
  if (!template) {
    template = (async () => {
      const home = await sampleHome(rows);
      const rt = await open(home);
      await runPipeline(rt, { dataset: 'infobase', snapshotDt: '2025-09-30', rerun: true });
      rt.close();
      return home;
    })();
    templates.set(rows, template);
  }
  const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-test-'));
  await fs.cp(await template, home, { recursive: true });
  const rt = await open(home);
  await rt.catalog.refreshViews(rt.deps.config.database);
  rt.close();
  return home;
}

/** Invokes snapshot-trigger as the CLI does and drains the bus. */
export async function runPipeline(rt: LocalRuntime, payload: Record<string, unknown> = { dataset: 'infobase', rerun: true }): Promise<void> {
  rt.bus.invoke('snapshotTrigger', payload);
  await rt.bus.drain();
}

export async function deliver(rt: LocalRuntime, ...events: unknown[]): Promise<void> {
  for (const e of events) rt.bus.deliver(e);
  await rt.bus.drain();
}

export async function count(rt: LocalRuntime, sql: string): Promise<number> {
  const rows = await rt.db.all(sql.replace(/\b(from|join)\s+([a-z_0-9]+)\b(?!\s*\()/gi, (_m, kw, t) => `${kw} "flywheel"."${t}"`));
  return Number(Object.values(rows[0] ?? {})[0]);
}

export async function ledger(rt: LocalRuntime, snapshotDt: string) {
  return (await makeLedgerStore(rt.store, rt.deps.config, rt.deps.clock).load('infobase', snapshotDt))?.ledger;
}

export async function outbox(home: string): Promise<string[]> {
  const dir = path.join(home, 'outbox');
  const files = (await fs.readdir(dir).catch(() => [] as string[])).sort();
  return Promise.all(files.map((f) => fs.readFile(path.join(dir, f), 'utf8')));
}

export function lakePath(home: string, key: string): string {
  return path.join(home, 'lake', 'data', key);
}

/** The S3 → EventBridge event for a ready marker. */
export function markerEvent(snapshotDt: string) {
  return {
    version: '0',
    id: `evt-${snapshotDt}`,
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '111122223333',
    time: '2025-10-31T23:00:59Z',
    region: 'us-east-1',
    resources: ['arn:aws:s3:::data'],
    detail: {
      version: '0',
      bucket: { name: 'data' },
      object: { key: `${RAW}snapshot_dt=${snapshotDt}/_SUCCESS`, size: 0 },
      'request-id': 'r',
      requester: '111122223333',
    },
  };
}
