// Jest globalTeardown: removes the run's temporary folder (tmp-setup.mjs); FLYWHEEL_KEEP_TMP=1 keeps it for a look.
import { rmSync } from 'node:fs';

export default function teardown() {
  const dir = process.env.FLYWHEEL_TEST_TMP;
  if (!dir) return;
  if (process.env.FLYWHEEL_KEEP_TMP) {
    process.stderr.write(`test folders kept in ${dir}\n`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}
