// Regenerates test/fixtures/bucket-vectors.json from the TypeScript bucket function:
//   npx tsx scripts/generate-bucket-vectors.ts
// The file is the contract every engine (TypeScript, DuckDB, PySpark, Athena) is tested against.
import { writeFileSync } from 'node:fs';
import { bucketOf } from '../shared/domain/bucket.js';

const ids: string[] = ['', 'abc', 'customer_0001', 'ÄÖü-ünïcødé', 'Zoë-50', ' ', "O'Brien", 'a\nb', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '😀', '👩‍👩‍👧‍👦', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '中文客户', 'ключ', 'مرحبا', 'x'.repeat(1000), '😀'.repeat(300), 'é'.repeat(513)];
let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const alphabet = ['a', 'Z', '0', '9', '-', '_', 'é', 'ß', 'Ω', 'ж', '中', '€', '😀', '🚀', '𐍈', ' '];
for (let i = 0; i < 600; i++) ids.push(`customer_${String(i).padStart(4, '0')}`);
for (let i = 0; i < 400; i++) {
  const n = Math.floor(rand() * 40);
  let s = '';
  for (let j = 0; j < n; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
  ids.push(s);
}
const vectors = ids.map((id) => ({ id, bucket: bucketOf(id) }));
writeFileSync(new URL('../test/fixtures/bucket-vectors.json', import.meta.url), JSON.stringify({ nullBucket: 0, vectors }, null, 1) + '\n');
console.log(`wrote ${vectors.length} vectors`);
