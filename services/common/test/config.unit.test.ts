import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, modelListSchema, parseConfig, sharedEnv } from '../src/index.ts';

describe('configuration', () => {
  it('parses the model list and rejects bad entries with a clear message', () => {
    expect(modelListSchema.parse('model1=wave, model5=la_muse')).toEqual([
      { name: 'model1', style: 'wave' },
      { name: 'model5', style: 'la_muse' },
    ]);
    expect(() => modelListSchema.parse('model1=monet')).toThrow(/unknown style/);
    expect(() => modelListSchema.parse('Model1=wave')).toThrow(/bad model name/);
    expect(() => modelListSchema.parse('m=wave,m=udnie')).toThrow(/twice/);
    expect(() => modelListSchema.parse('')).toThrow(/no models/);
  });

  it('defaults to the models of the list and reports every problem at once', () => {
    const schema = z.object({ NST_MODELS: sharedEnv.NST_MODELS, NST_STORAGE_DIR: sharedEnv.NST_STORAGE_DIR });
    expect(parseConfig(schema, {}).NST_MODELS.map((m) => m.style)).toEqual(['wave', 'udnie', 'scream', 'rain_princess', 'arbitrary']);
    try {
      parseConfig(z.object({ NST_MODELS: sharedEnv.NST_MODELS, LOG_LEVEL: sharedEnv.LOG_LEVEL }), { NST_MODELS: 'x=nope', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/NST_MODELS/);
      expect((err as Error).message).toMatch(/LOG_LEVEL/);
    }
  });
});
