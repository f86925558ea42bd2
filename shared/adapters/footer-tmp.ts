import { parquetMetadata, parquetSchema } from 'hyparquet';
import type { ColumnDef, ObjectStore } from '../ports.js';
export async function readParquetFooter(store: ObjectStore, bucket: string, key: string, size: number): Promise<{ columns: ColumnDef[]; rowCount: number }> {
  const tailLen = Math.min(size, 65536);
  let buf = await store.getRange(bucket, key, size - tailLen, size);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const footerLen = view.getUint32(buf.byteLength - 8, true);
  if (footerLen + 8 > buf.byteLength) buf = await store.getRange(bucket, key, size - footerLen - 8, size);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  const meta = parquetMetadata(ab);
  const schema = parquetSchema(meta);
  const columns = schema.children.map((c) => {
    const e = c.element as { name: string; type?: string; converted_type?: string; logical_type?: { type: string; precision?: number; scale?: number }; precision?: number; scale?: number };
    let type = 'binary';
    const lt = e.logical_type?.type ?? e.converted_type;
    if (lt === 'STRING' || lt === 'UTF8') type = 'string';
    else if (lt === 'DATE') type = 'date';
    else if (lt === 'DECIMAL') type = `decimal(${e.precision ?? e.logical_type?.precision},${e.scale ?? e.logical_type?.scale ?? 0})`;
    else if (lt === 'TIMESTAMP' || lt === 'TIMESTAMP_MICROS' || lt === 'TIMESTAMP_MILLIS') type = 'timestamp';
    else if (e.type === 'INT32') type = 'int';
    else if (e.type === 'INT64') type = 'bigint';
    else if (e.type === 'DOUBLE') type = 'double';
    else if (e.type === 'FLOAT') type = 'float';
    else if (e.type === 'BOOLEAN') type = 'boolean';
    return { name: e.name, type };
  });
  return { columns, rowCount: Number(meta.num_rows) };
}
