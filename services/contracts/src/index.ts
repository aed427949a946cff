export * from './errors.ts';
export * from './inference.ts';
