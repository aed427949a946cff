/** GET /api/config: the upload limits the browser UI applies before sending a file. */
import { uiConfigSchema, type UiConfig } from '@nst/contracts';
import type { GatewayConfig } from '../config.ts';
import type { GatewayApp } from '../typedRoutes.ts';

export function uiConfigRoutes(app: GatewayApp, config: GatewayConfig): void {
  const body: UiConfig = { max_upload_bytes: config.NST_MAX_UPLOAD_BYTES, max_style_bytes: config.NST_MAX_STYLE_BYTES };
  app.get('/api/config', { schema: { summary: 'Upload limits for the browser UI', response: { 200: uiConfigSchema } } }, async () => body);
}
