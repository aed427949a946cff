import { describe, expect, it } from 'vitest';
import { ConfigError } from '@nst/common';
import { loadFinetuneConfig } from '../src/config.ts';
import { finetuneRequestSchema } from '@nst/contracts';
import { stepsFor } from '../src/jobs/request.ts';

describe('finetune configuration', () => {
  it('defaults to port 8005 and the shared settings', () => {
    const c = loadFinetuneConfig({});
    expect(c.NST_FINETUNE_PORT).toBe(8005);
    expect(c.NST_MODELS.map((m) => m.name)).toContain('model1');
    expect(c.NST_FINETUNE_THREADS).toBeGreaterThan(0);
  });

  it('rejects a bad port and a short admin token in one error', () => {
    expect(() => loadFinetuneConfig({ NST_FINETUNE_PORT: '70000', NST_ADMIN_TOKEN: 'short' })).toThrow(ConfigError);
    try {
      loadFinetuneConfig({ NST_FINETUNE_PORT: '70000', NST_ADMIN_TOKEN: 'short' });
    } catch (err) {
      expect((err as Error).message).toMatch(/NST_FINETUNE_PORT/);
      expect((err as Error).message).toMatch(/NST_ADMIN_TOKEN/);
    }
  });
});

describe('POST /finetune body', () => {
  it('fills in defaults', () => {
    const r = finetuneRequestSchema.parse({ model: 'model1' });
    expect(r).toMatchObject({ batch_size: 4, image_size: 256, learning_rate: 1e-3, data: 'both', publish: { mode: 'latest' } });
    expect(stepsFor(r, 100)).toBe(200);
  });

  it('turns epochs into steps over the dataset', () => {
    const r = finetuneRequestSchema.parse({ model: 'model1', epochs: 2, batch_size: 4 });
    expect(stepsFor(r, 10)).toBe(5);
  });

  it.each([
    [{ model: 'model1', steps: 0 }, 'steps'],
    [{ model: 'model1', steps: 1.5 }, 'steps'],
    [{ model: 'model1', batch_size: 17 }, 'batch_size'],
    [{ model: 'model1', image_size: 30 }, 'image_size'],
    [{ model: 'model1', image_size: 130 }, 'multiple of 4'],
    [{ model: 'model1', learning_rate: 0 }, 'learning_rate'],
    [{ model: 'model1', learning_rate: 2 }, 'learning_rate'],
    [{ model: 'model1', style_weight: -1 }, 'style_weight'],
    [{ model: 'model1', data: 'uploads' }, 'data'],
    [{ model: 'model1', publish: 'everywhere' }, 'publish'],
    [{ model: 'model1', steps: 5, epochs: 1 }, 'not both'],
    [{ model: 'model1', style_weight: 0, content_weight: 0, tv_weight: 0 }, 'positive'],
    [{ model: 'Model 1' }, 'model'],
    [{ model: 'model1', unknown_field: 1 }, 'unknown_field'],
  ])('rejects %j', (body, message) => {
    const r = finetuneRequestSchema.safeParse(body);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toContain(message);
  });

  it('takes publish as a shorthand string or as an object (room for modes with settings)', () => {
    const publish = (p: unknown) => finetuneRequestSchema.safeParse({ model: 'model1', publish: p });
    expect(publish('none').data?.publish).toEqual({ mode: 'none' });
    expect(publish({ mode: 'latest' }).data?.publish).toEqual({ mode: 'latest' });
    expect(publish({ mode: 'latest', extra: 1 }).success).toBe(false);
  });
});
