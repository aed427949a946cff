// PgStore (./pgStore.ts) is loaded on demand by openPlatformStore, so processes without a database never load pg.
export * from './types.ts';
export * from './fileStore.ts';
export * from './fileJobRecords.ts';
export * from './open.ts';
