export * from './http/app.ts';
export * from './config.ts';
export * from './jobs/request.ts';
export * from './jobs/jobQueue.ts';
export * from './jobs/publish.ts';
export * from './jobs/envelope.ts';
