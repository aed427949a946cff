/**
 * Run under a file size limit (prlimit --fsize) by platformStore.test.ts: appends ratings to
 * a file store until they fail, and prints what was accepted, the errors and the store's health.
 */
import { FileStore } from '../../src/index.ts';

const store = new FileStore(process.argv[2]!);
let accepted = 0;
const errors: { status: number; message: string }[] = [];
for (let i = 0; i < 40 && errors.length < 3; i++) {
  try {
    await store.addFeedback({
      feedback: 'bad',
      model: 'model1',
      version: 'model1_v1',
      content_image_filename: `in_${i}.png`,
      output_image_filename: `out_${i}.png`,
      timestamp: new Date().toISOString(),
      received_at: new Date().toISOString(),
      comment: 'x'.repeat(150),
      client_id: `client-${i}`,
    });
    accepted++;
  } catch (err) {
    errors.push({ status: (err as { statusCode?: number }).statusCode ?? 0, message: (err as Error).message });
  }
}
console.log(JSON.stringify({ accepted, errors, health: await store.health() }));
