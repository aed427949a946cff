export * from './types.ts';
export * from './fileStore.ts';
export * from './pgStore.ts';
export * from './open.ts';
