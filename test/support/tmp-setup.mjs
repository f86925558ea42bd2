// Jest globalSetup: every temporary folder of a test run (the tests' homes, lakes, packaged bundles, the engines'
// scratch) goes under one folder, which globalTeardown removes. Workers start after this and inherit TMPDIR, so
// os.tmpdir() and the child processes (osls, Spark, Trino, moto) all write there.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-jest-'));
  process.env.FLYWHEEL_TEST_TMP = dir;
  process.env.TMPDIR = dir;
}
