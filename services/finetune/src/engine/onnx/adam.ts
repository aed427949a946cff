/**
 * Adam over typed arrays, the same update as tf.train.adam (β1 0.9, β2 0.999, ε 1e-7, bias
 * correction folded into the step), so a run on either engine follows the same recipe.
 * One pass over 1.7 M parameters takes a few milliseconds, against a step's seconds, so
 * it stays out of the graph.
 */
export class Adam {
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private t = 0;

  constructor(
    private readonly learningRate: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-7,
  ) {}

  /** Updates `weights` in place with one step along `grads` (same names and sizes). */
  step(weights: Map<string, Float32Array>, grads: Map<string, Float32Array>): void {
    this.t++;
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    for (const [name, w] of weights) {
      const g = grads.get(name);
      if (!g) throw new Error(`no gradient for ${name}`);
      let m = this.m.get(name);
      let v = this.v.get(name);
      if (!m || !v) {
        m = new Float32Array(w.length);
        v = new Float32Array(w.length);
        this.m.set(name, m);
        this.v.set(name, v);
      }
      const lr = this.learningRate;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        const mi = b1 * m[i]! + (1 - b1) * gi;
        const vi = b2 * v[i]! + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i]! - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
      }
    }
  }
}
