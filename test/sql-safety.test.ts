// Hostile strings thrown at every SQL builder: identifiers are refused unless they match the strict
// pattern, string values are escaped so nothing escapes the literal.
import fc from 'fast-check';
import { renderAthenaStep } from '../shared/domain/athena-sql.js';
import { buildStepsFor } from '../shared/domain/build-steps.js';
import { renderAthenaMonitorQuery } from '../shared/domain/monitor/queries.js';
import { columnType, identifier, literal, location } from '../shared/domain/sql-identifiers.js';

const hostile = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom(
    `x"; DROP TABLE t; --`,
    "a' OR '1'='1",
    'a`b',
    'a\nb',
    'part_t /* */',
    'Ä',
    '',
    ' ',
    'x"."y',
    "s3://b/k' OR 1=1 --",
    's3://b/k/../x',
    's3://data/a/../../x/',
    's3://data//x/',
    "'",
    '"',
    '\\',
  ),
  fc.string().map((s) => `part_${s}`),
  fc.string().map((s) => `s3://data/${s}/`),
);
const SAFE_ID = /^[a-z_][a-z0-9_]*$/;
const LITERAL = /^'(?:[^']|'')*'$/;

test('identifiers: accepted only when they match the strict pattern', () => {
  fc.assert(
    fc.property(hostile, (s) => {
      let out: string | undefined;
      try {
        out = identifier(s);
      } catch {
        return !SAFE_ID.test(s);
      }
      return SAFE_ID.test(out) && out === s;
    }),
    { numRuns: 2000 },
  );
});

test('string literals: every value stays inside its quotes and round-trips', () => {
  fc.assert(
    fc.property(hostile, (s) => {
      const lit = literal(s);
      return LITERAL.test(lit) && lit.slice(1, -1).replace(/''/g, "'") === s;
    }),
    { numRuns: 2000 },
  );
});

test('locations and column types are refused unless plain', () => {
  fc.assert(
    fc.property(hostile, (s) => {
      const ok = (fn: () => string) => {
        try {
          const v = fn();
          return !/['"`;\s\\]/.test(v) && !v.includes('..');
        } catch {
          return true;
        }
      };
      return ok(() => location(s)) && ok(() => columnType(s));
    }),
    { numRuns: 2000 },
  );
});

test('rendered statements: a hostile table, column or location either throws or appears only quoted', () => {
  fc.assert(
    fc.property(hostile, hostile, hostile, (table, column, loc) => {
      const render = () => [
        ...buildStepsFor({
          database: 'db',
          table: 't',
          extTable: table,
          partStaging: 'part_t__r1',
          columns: [{ name: column, type: 'string' }],
          partLocation: loc,
          bucketCount: 256,
          partitionsPerQuery: 100,
        }).map(renderAthenaStep),
        renderAthenaMonitorQuery({ kind: 'monitor-scan', database: 'db', table, pkColumn: column, bucketCount: 256 }),
        renderAthenaMonitorQuery({ kind: 'monitor-count', database: 'db', table }),
        renderAthenaMonitorQuery({ kind: 'repair-partitions', database: 'db', table, partitions: [{ values: ['1'], location: loc }] }),
      ];
      let statements: string[];
      try {
        statements = render();
      } catch {
        return true;
      }
      // everything that got through is a safe identifier / location, so no statement contains a separator or a comment
      return statements.every((sql) => !sql.includes(';') && !sql.includes('--') && !sql.includes('/*')) && SAFE_ID.test(table) && SAFE_ID.test(column);
    }),
    { numRuns: 500 },
  );
});
