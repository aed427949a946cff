export * from './app.ts';
export * from './config.ts';
export * from './jobs/request.ts';
export * from './jobs/jobQueue.ts';
export * from './publish.ts';
export * from './jobs/envelope.ts';
