/** GET /api/config: the upload limits the browser UI applies before sending a file. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { UiConfig } from '@nst/contracts/uiConfig';
import type { GatewayConfig } from '../config.ts';

const { $schema: _dialect, ...responseSchema } = z.toJSONSchema(UiConfig, { target: 'draft-7' });

export function uiConfigRoutes(app: FastifyInstance, config: GatewayConfig): void {
  const body: UiConfig = UiConfig.parse({ max_upload_bytes: config.NST_MAX_UPLOAD_BYTES, max_style_bytes: config.NST_MAX_STYLE_BYTES });
  app.get('/api/config', { schema: { summary: 'Upload limits for the browser UI', response: { 200: responseSchema } } }, async () => body);
}
