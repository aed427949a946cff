/** A minimal platform service for httpService.test.ts: GET /slow?ms=N answers after N ms; stops on SIGTERM. */
import { closeOnSignals, createService } from '../../src/index.ts';

const app = createService({ service: 'drain-test', logLevel: 'info' });
app.get<{ Querystring: { ms?: string } }>('/slow', async (req) => {
  await new Promise((r) => setTimeout(r, Number(req.query.ms ?? 500)));
  return { done: true };
});
closeOnSignals(app);
await app.listen({ host: '127.0.0.1', port: Number(process.argv[2]) });
