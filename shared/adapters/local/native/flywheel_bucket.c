/*
 * flywheel_bucket(VARCHAR) -> INTEGER: the bucket function of DESIGN.md as a DuckDB scalar function.
 *
 *   h = 31*h + b over the UTF-8 bytes of the key, each byte signed (-128..127), 32-bit wrapping;
 *   id_bucket = (h & 0x7fffffff) % 256; a NULL key goes to bucket 0.
 *
 * It is the local engine's form of shared/domain/bucket.ts (bucketOf) and is checked against the shared
 * vector file (test/bucket-vectors.test.ts). The pure-SQL form (duckdbBucketSql) stays the fallback
 * where this cannot be built; see bucket-extension.ts, which compiles this file against the libduckdb
 * that @duckdb/node-api loads and appends DuckDB's extension footer (C_STRUCT ABI).
 *
 * Only the few declarations of DuckDB's stable C API that this file calls are spelled out here (they are
 * the documented signatures of duckdb.h), so no DuckDB header is needed. The functions themselves are
 * resolved against the libduckdb.so already loaded in the process.
 */
#include <stdbool.h>
#include <stdint.h>

typedef uint64_t idx_t;
typedef enum { DuckDBSuccess = 0, DuckDBError = 1 } duckdb_state;
#define DUCKDB_HANDLE(name) typedef struct _##name { void *internal_ptr; } *name
DUCKDB_HANDLE(duckdb_database);
DUCKDB_HANDLE(duckdb_connection);
DUCKDB_HANDLE(duckdb_function_info);
DUCKDB_HANDLE(duckdb_data_chunk);
DUCKDB_HANDLE(duckdb_vector);
DUCKDB_HANDLE(duckdb_logical_type);
DUCKDB_HANDLE(duckdb_scalar_function);
DUCKDB_HANDLE(duckdb_extension_info);

enum { DUCKDB_TYPE_INTEGER = 4, DUCKDB_TYPE_VARCHAR = 17 };

/* A VARCHAR value: up to 12 bytes inline, longer strings behind a pointer (16 bytes either way). */
typedef union {
  struct { uint32_t length; char prefix[4]; const char *ptr; } pointer;
  struct { uint32_t length; char data[12]; } inlined;
} duckdb_string_t;
_Static_assert(sizeof(duckdb_string_t) == 16, "duckdb_string_t is 16 bytes");

/* What DuckDB hands a C API extension's entry point. */
typedef struct {
  void (*set_error)(duckdb_extension_info info, const char *error);
  duckdb_database *(*get_database)(duckdb_extension_info info);
  const void *(*get_api)(duckdb_extension_info info, const char *version);
} duckdb_extension_access;

typedef void (*duckdb_scalar_function_t)(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output);

duckdb_state duckdb_connect(duckdb_database database, duckdb_connection *out_connection);
void duckdb_disconnect(duckdb_connection *connection);
duckdb_logical_type duckdb_create_logical_type(int type);
void duckdb_destroy_logical_type(duckdb_logical_type *type);
duckdb_scalar_function duckdb_create_scalar_function(void);
void duckdb_destroy_scalar_function(duckdb_scalar_function *scalar_function);
void duckdb_scalar_function_set_name(duckdb_scalar_function scalar_function, const char *name);
void duckdb_scalar_function_add_parameter(duckdb_scalar_function scalar_function, duckdb_logical_type type);
void duckdb_scalar_function_set_return_type(duckdb_scalar_function scalar_function, duckdb_logical_type type);
void duckdb_scalar_function_set_special_handling(duckdb_scalar_function scalar_function);
void duckdb_scalar_function_set_function(duckdb_scalar_function scalar_function, duckdb_scalar_function_t function);
duckdb_state duckdb_register_scalar_function(duckdb_connection con, duckdb_scalar_function scalar_function);
idx_t duckdb_data_chunk_get_size(duckdb_data_chunk chunk);
duckdb_vector duckdb_data_chunk_get_vector(duckdb_data_chunk chunk, idx_t col_idx);
void *duckdb_vector_get_data(duckdb_vector vector);
uint64_t *duckdb_vector_get_validity(duckdb_vector vector);

/* DuckDB flattens the input before calling; NULL rows reach us (special handling) and get bucket 0. */
static void flywheel_bucket(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  (void)info;
  const idx_t rows = duckdb_data_chunk_get_size(input);
  const duckdb_vector keys = duckdb_data_chunk_get_vector(input, 0);
  const duckdb_string_t *key = (const duckdb_string_t *)duckdb_vector_get_data(keys);
  const uint64_t *valid = duckdb_vector_get_validity(keys);
  int32_t *bucket = (int32_t *)duckdb_vector_get_data(output);
  for (idx_t i = 0; i < rows; i++) {
    if (valid && !(valid[i >> 6] & (1ULL << (i & 63)))) {
      bucket[i] = 0;
      continue;
    }
    const uint32_t length = key[i].inlined.length;
    const signed char *byte = (const signed char *)(length <= 12 ? key[i].inlined.data : key[i].pointer.ptr);
    uint32_t h = 0;
    for (uint32_t j = 0; j < length; j++) h = h * 31u + (uint32_t)(int32_t)byte[j];
    bucket[i] = (int32_t)((h & 0x7fffffffu) % 256u);
  }
}

/* Entry point DuckDB looks up for a C API extension named flywheel_bucket; true when registered. */
bool flywheel_bucket_init_c_api(duckdb_extension_info info, duckdb_extension_access *access) {
  duckdb_database *db = access->get_database(info);
  duckdb_connection con;
  if (!db || duckdb_connect(*db, &con) != DuckDBSuccess) {
    access->set_error(info, "flywheel_bucket: could not connect to the database loading it");
    return false;
  }
  duckdb_scalar_function fn = duckdb_create_scalar_function();
  duckdb_logical_type varchar = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
  duckdb_logical_type integer = duckdb_create_logical_type(DUCKDB_TYPE_INTEGER);
  duckdb_scalar_function_set_name(fn, "flywheel_bucket");
  duckdb_scalar_function_add_parameter(fn, varchar);
  duckdb_scalar_function_set_return_type(fn, integer);
  duckdb_scalar_function_set_special_handling(fn);
  duckdb_scalar_function_set_function(fn, flywheel_bucket);
  const bool ok = duckdb_register_scalar_function(con, fn) == DuckDBSuccess;
  if (!ok) access->set_error(info, "flywheel_bucket: registering the scalar function failed");
  duckdb_destroy_logical_type(&varchar);
  duckdb_destroy_logical_type(&integer);
  duckdb_destroy_scalar_function(&fn);
  duckdb_disconnect(&con);
  return ok;
}
