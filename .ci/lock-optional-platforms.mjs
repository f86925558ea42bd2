// Adds package-lock entries for optional platform packages (other OSes/CPUs) that this machine's
// registry mirror does not serve at the pinned version. npm leaves them out of the lock when it
// cannot resolve them, and `npm ci` then refuses the lock as out of sync. Each added entry is marked
// optional with its os/cpu, so npm ci skips it on every platform it does not match.
//   node .ci/lock-optional-platforms.mjs   (after any `npm install` that changes the lock)
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;
const platform = (name) => {
  const os = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openbsd', 'sunos', 'aix', 'netbsd'].find((o) => name.includes(o));
  const cpu = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'wasm32', 'mips64el'].find((c) =>
    new RegExp(`[-_]${c}([-_]|$)`).test(name.split('/').pop()),
  );
  return { ...(os ? { os: [os] } : {}), ...(cpu && cpu !== 'wasm32' ? { cpu: [cpu] } : {}) };
};
let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = path ? `${path}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[base] || packages[`node_modules/${name}`]) continue;
    packages[`node_modules/${name}`] = { version: version.replace(/^[\^~]/, ''), dev: entry.dev, optional: true, ...platform(name) };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} optional platform entries`);
