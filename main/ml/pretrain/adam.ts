import { tf } from '../tf.js';
import { scheduledLr, type OptimizerConfig } from '../config.js';

/**
 * Adam over a dictionary of named variables (PyTorch's formulation, bias-corrected step size). Written out
 * rather than taken from tf.train so that its state (step, first and second moments by parameter name) is
 * plain data for checkpoints and exact resume.
 */
export class Adam {
  step = 0;
  readonly m: Record<string, tf.Variable> = {};
  readonly v: Record<string, tf.Variable> = {};

  constructor(
    readonly cfg: OptimizerConfig,
    params: Record<string, tf.Variable>,
  ) {
    for (const [name, p] of Object.entries(params)) {
      // tf.variable keeps its own reference to the initial value: the zeros themselves are freed here.
      const zm = tf.zerosLike(p);
      const zv = tf.zerosLike(p);
      this.m[name] = tf.variable(zm, false, `${p.name}/adam_m`);
      this.v[name] = tf.variable(zv, false, `${p.name}/adam_v`);
      zm.dispose();
      zv.dispose();
    }
  }

  /**
   * One update; `grads` keyed by parameter name (missing entries are left untouched). Without `lr`, the
   * configured schedule's rate for this update (a function of the step alone, so resumed runs and data-parallel
   * workers follow the same curve).
   */
  apply(params: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr?: number): void {
    this.step += 1;
    lr ??= scheduledLr(this.cfg, this.step);
    const { beta1, beta2, epsilon } = this.cfg;
    const stepSize = (lr * Math.sqrt(1 - beta2 ** this.step)) / (1 - beta1 ** this.step);
    for (const [name, p] of Object.entries(params)) {
      const g = grads[name];
      if (!g) continue;
      const m = this.m[name]!;
      const v = this.v[name]!;
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        // PyTorch adds ε to sqrt(v̂) with the bias correction folded into the step size like this.
        p.assign(tf.sub(p, tf.mul(tf.div(m1, tf.add(tf.sqrt(v1), epsilon * Math.sqrt(1 - beta2 ** this.step))), stepSize)));
      });
    }
  }

  dispose(): void {
    for (const t of [...Object.values(this.m), ...Object.values(this.v)]) t.dispose();
  }
}
