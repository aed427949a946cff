/** Structured JSON logs in Elastic Common Schema, one line per event. */
import { ecsFormat } from '@elastic/ecs-pino-format';
import { pino, type Logger, type LoggerOptions } from 'pino';

export function loggerOptions(service: string, level = process.env.LOG_LEVEL ?? 'info'): LoggerOptions {
  return {
    ...ecsFormat({ convertReqRes: true, apmIntegration: false, serviceName: service }),
    level,
  };
}

export function createLogger(service: string, level?: string): Logger {
  return pino(loggerOptions(service, level));
}
export type { Logger };
