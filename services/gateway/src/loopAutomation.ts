/**
 * The ML loop, run after each rating when switched on: the canary rule promotes or rolls
 * back a candidate with enough ratings (NST_AUTO_DECIDE), and the feedback gate starts a
 * fine-tune published as a canary when the live version collects too many bad ratings
 * (NST_AUTO_FINETUNE). Both count distinct clients (NST_LOOP_MIN_CLIENTS), so no single
 * client can start a fine-tune or decide a canary.
 */
import type { FastifyBaseLogger } from 'fastify';
import { decideCanary, gateFromStats } from '@nst/common';
import type { GatewayContext } from './context.ts';
import type { FinetuneClient } from './finetuneClient.ts';
import { modelStats } from './routes/stats.ts';

const ACTIVE = new Set(['queued', 'running']);

export class LoopAutomation {
  /** Fine-tune job started by the gate per model, so one bad streak starts one job. */
  private readonly jobs = new Map<string, string>();
  private readonly busy = new Set<string>();

  constructor(
    private readonly ctx: GatewayContext,
    private readonly finetune: FinetuneClient,
    private readonly log: FastifyBaseLogger,
  ) {}

  async afterFeedback(model: string): Promise<void> {
    const c = this.ctx.config;
    if ((!c.NST_AUTO_DECIDE && !c.NST_AUTO_FINETUNE) || this.busy.has(model)) return;
    this.busy.add(model);
    try {
      const stats = await modelStats(this.ctx, model);
      const live = stats.versions.find((v) => v.version === stats.live_version);
      if (c.NST_AUTO_DECIDE && stats.canary && live) {
        const cand = stats.versions.find((v) => v.version === stats.canary!.version);
        if (cand) {
          const verdict = decideCanary(live, cand, { minRated: c.NST_AUTO_MIN_RATED, margin: c.NST_AUTO_MARGIN, minRaters: c.NST_LOOP_MIN_CLIENTS });
          if (verdict.action === 'promote') await this.ctx.release.promote(model, 'auto-rule', verdict.reason);
          else if (verdict.action === 'rollback') await this.ctx.release.rollback(model, undefined, 'auto-rule', verdict.reason);
          return;
        }
      }
      if (c.NST_AUTO_FINETUNE && !stats.canary && live && !this.ctx.arbitraryModels.has(model)) {
        const gate = gateFromStats(stats, c.NST_FEEDBACK_GATE_THRESHOLD, c.NST_LOOP_MIN_CLIENTS);
        if (!gate.trigger || (await this.jobActive(model))) return;
        const body = { steps: 20, image_size: 128, batch_size: 1, data: 'both' as const, ...c.NST_AUTO_FINETUNE_PARAMS, model, publish: 'canary' as const, canary_percent: c.NST_AUTO_CANARY_PERCENT };
        const res = await this.finetune.start(body);
        if (!res.job) {
          this.log.error({ nst: { event: 'feedback_gate', model }, response: res.body }, `feedback gate could not start a fine-tune (${res.status})`);
          return;
        }
        const { id } = res.job;
        this.jobs.set(model, id);
        this.log.info({ nst: { event: 'feedback_gate', model, version: live.version, job: { id } } }, `feedback gate: ${gate.bad} bad ratings for ${live.version} (threshold ${gate.threshold}); fine-tune ${id} started`);
      }
    } catch (err) {
      this.log.error({ err, nst: { model } }, 'feedback loop automation failed');
    } finally {
      this.busy.delete(model);
    }
  }

  private async jobActive(model: string): Promise<boolean> {
    const id = this.jobs.get(model);
    if (!id) return false;
    const job = await this.finetune.job(id).catch(() => null);
    return job !== null && ACTIVE.has(job.state);
  }
}
