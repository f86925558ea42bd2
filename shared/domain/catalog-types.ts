/**
 * The shapes the ports carry and the domain reasons about: an object in a store, a catalog table, its
 * columns and partitions. Plain data; shared/ports.ts re-exports them beside the interfaces that use them.
 */

export interface ObjectInfo {
  key: string;
  size: number;
  etag?: string;
  lastModified?: Date;
}

/** A server-side copy of one object (ObjectStore.copyMany). */
export interface ObjectCopy {
  fromBucket: string;
  fromKey: string;
  toBucket: string;
  toKey: string;
}

/** A column as the catalog stores it (Hive type names: string, bigint, int, double, boolean, …). */
export interface ColumnDef {
  name: string;
  type: string;
}

export interface TableDef {
  name: string;
  /** URI of the folder holding the data files (s3://bucket/key/ or the local lake equivalent). */
  location: string;
  columns: ColumnDef[];
  partitionKeys: ColumnDef[];
  comment?: string;
  parameters: Record<string, string>;
  bucketing?: { columns: string[]; count: number };
  /** How the catalog stores it (adapters fill it when reading; defaults to an external parquet table). */
  storage?: { tableType?: string; inputFormat?: string; serde?: string };
}

export interface PartitionDef {
  values: string[];
  location: string;
}
