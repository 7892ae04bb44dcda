import { describe, expect, it } from 'vitest';
import { parseSchemaString, sparkSchemaString, sparkType, sparkTypeName } from '../../lake/delta/actions.js';

describe('sparkSchemaString (DuckDB columns -> Delta schema)', () => {
  it('maps every supported DuckDB type to its Spark type', () => {
    const cases: [string, unknown][] = [
      ['VARCHAR', 'string'],
      ['BIGINT', 'long'],
      ['INTEGER', 'integer'],
      ['SMALLINT', 'short'],
      ['TINYINT', 'byte'],
      ['DOUBLE', 'double'],
      ['FLOAT', 'float'],
      ['REAL', 'float'],
      ['BOOLEAN', 'boolean'],
      ['DATE', 'date'],
      ['TIMESTAMP WITH TIME ZONE', 'timestamp'],
      ['TIMESTAMPTZ', 'timestamp'],
      ['DECIMAL(18,2)', 'decimal(18,2)'],
      ['DECIMAL(38, 10)', 'decimal(38,10)'],
      ['VARCHAR[]', { type: 'array', elementType: 'string', containsNull: true }],
      ['timestamp with time zone', 'timestamp'],
    ];
    for (const [duckType, spark] of cases) expect(sparkType(duckType), duckType).toEqual(spark);
  });

  it('writes a struct of nullable fields with empty metadata, as Spark does', () => {
    const text = sparkSchemaString([
      { name: 'order_id', type: 'VARCHAR' },
      { name: 'total', type: 'DECIMAL(12,2)' },
      { name: 'tags', type: 'VARCHAR[]' },
    ]);
    expect(JSON.parse(text)).toEqual({
      type: 'struct',
      fields: [
        { name: 'order_id', type: 'string', nullable: true, metadata: {} },
        { name: 'total', type: 'decimal(12,2)', nullable: true, metadata: {} },
        { name: 'tags', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
      ],
    });
  });

  it('refuses TIMESTAMP without time zone, pointing at timestamp_ntz and the fix', () => {
    for (const zoneless of ['TIMESTAMP', 'TIMESTAMP_NS', 'DATETIME']) {
      expect(() => sparkSchemaString([{ name: 'at', type: zoneless }])).toThrow(/timestamp_ntz.*TIMESTAMPTZ/);
    }
  });

  it('refuses types with no supported Delta equivalent', () => {
    for (const unsupported of ['HUGEINT', 'UUID', 'STRUCT(a INTEGER)', 'MAP(VARCHAR, VARCHAR)', 'INTERVAL']) {
      expect(() => sparkType(unsupported), unsupported).toThrow(/has no Delta \(Spark\) equivalent/);
    }
  });

  it('reads a schemaString back and names types the short Spark way', () => {
    const schema = parseSchemaString(sparkSchemaString([{ name: 'ids', type: 'BIGINT[]' }]));
    expect(sparkTypeName(schema.fields[0].type)).toBe('array<long>');
    expect(() => parseSchemaString('{"type":"array"}')).toThrow(/not a Spark struct/);
  });
});
