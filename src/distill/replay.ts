/**
 * A replay buffer of teacher-approved synthetic samples and their teacher logits (TA-DFKD's
 * `tadfkd.replay`): a ring of fixed capacity, filled with the kept samples of the student's fresh draws
 * and read back by uniform sampling with the engine RNG, so that a seed still gives the same student and
 * a checkpoint (which holds the buffer) resumes it exactly. The teacher is frozen, so a stored logit is
 * the teacher's answer to that sample for the whole run: replayed samples need no teacher forward.
 */
import { Tensor, Device, zeros, rand, randint, keep, noGrad, tensor } from '../tensor';
import { DfkdError } from '../errors';

/**
 * Which samples a full buffer keeps: `ring` the most recent ones (the oldest row is overwritten), or
 * `reservoir` a uniform random sample of every sample offered so far (Vitter's algorithm R, with the
 * engine RNG), so that samples of early generators stay as likely as recent ones.
 */
export type ReplayPolicy = 'ring' | 'reservoir';

export class ReplayBuffer {
  private x: Tensor | undefined;
  private t: Tensor | undefined;
  /** Rows filled (at most the capacity), the row the next sample goes to (ring), samples offered so far. */
  private filled = 0;
  private next = 0;
  private seen = 0;

  constructor(
    readonly capacity: number,
    readonly policy: ReplayPolicy = 'ring',
    /** Where the rows live (the run's device; checkpoints are read onto the CPU). */
    private readonly device?: Device,
    /**
     * How sample() weighs the teacher's classes (argmax of the stored logits): 0 uniform over rows, 1 each
     * class present equally often, in between a class with c rows is drawn in proportion to c^(1 - b).
     */
    readonly classBalance = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new DfkdError(`replay buffer: capacity must be a positive integer, got ${capacity}`, 'EINVAL');
    if (!(classBalance >= 0 && classBalance <= 1)) throw new DfkdError(`replay buffer: classBalance must be in [0, 1], got ${classBalance}`, 'EINVAL');
  }

  get count(): number {
    return this.filled;
  }

  /** Rows allocated: grown (doubling, at least 256) as samples arrive, up to the capacity. */
  private get allocated(): number {
    return this.x ? this.x.shape[0] : 0;
  }

  /**
   * Makes room for `rows` rows shaped like x[0] and t[0] (on their device), keeping the rows held. Until
   * the buffer is full, samples fill rows 0, 1, 2... in order, so growing never moves a sample.
   */
  private ensure(x: Tensor, t: Tensor, rows: number): void {
    const want = Math.min(this.capacity, rows);
    if (want <= this.allocated) return;
    const size = Math.min(this.capacity, Math.max(want, 2 * this.allocated, 256));
    const grow = (old: Tensor | undefined, like: Tensor): Tensor => {
      const next = keep(zeros([size, ...like.shape.slice(1)], 'float32', like.device as Device));
      if (old) {
        const head = next.narrow(0, 0, old.shape[0]);
        head.copy_(old);
        head.dispose();
        old.dispose();
      }
      return next;
    };
    this.x = grow(this.x, x);
    this.t = grow(this.t, t);
  }

  /** Stores samples x (and their teacher logits t); once full, the policy decides which rows they replace. */
  add(x: Tensor, t: Tensor): void {
    noGrad(() => {
      const n = x.shape[0];
      this.ensure(x, t, this.filled + n);
      if (this.policy === 'reservoir') return this.addReservoir(x, t, n);
      let done = 0;
      while (done < n) {
        const len = Math.min(n - done, this.capacity - this.next);
        this.copyRows(this.next, x, t, done, len);
        done += len;
        this.next = (this.next + len) % this.capacity;
        this.filled = Math.min(this.capacity, this.filled + len);
        this.seen += len;
      }
    });
  }

  /** Algorithm R: sample k (the seen-th offered, 0-based) replaces a uniform row j < seen + 1 when j < capacity. */
  private addReservoir(x: Tensor, t: Tensor, n: number): void {
    const u = rand([n], 'float32', x.device as Device);
    const r = u.toFloat32Array();
    u.dispose();
    for (let k = 0; k < n; k++) {
      const j = this.filled < this.capacity ? this.filled : Math.floor(r[k] * (this.seen + 1));
      this.seen += 1;
      if (j >= this.capacity) continue;
      this.copyRows(j, x, t, k, 1);
      if (this.filled < this.capacity) this.filled += 1;
    }
  }

  /** Copies `len` samples of x and t from row `from` into the buffer's rows from `row` on. */
  private copyRows(row: number, x: Tensor, t: Tensor, from: number, len: number): void {
    const views = [this.x!.narrow(0, row, len), x.narrow(0, from, len), this.t!.narrow(0, row, len), t.narrow(0, from, len)];
    views[0].copy_(views[1]);
    views[2].copy_(views[3]);
    for (const v of views) v.dispose();
  }

  /** m samples drawn with replacement from the filled rows: uniformly, or weighted by class (classBalance). */
  sample(m: number): { x: Tensor; t: Tensor } {
    if (this.filled === 0 || !this.x || !this.t) throw new Error('replay buffer: sample() on an empty buffer');
    const idx = this.classBalance > 0 ? this.balancedIndex(m) : randint(0, this.filled, [m], this.x.device as Device);
    try {
      return { x: this.x.indexSelect(0, idx), t: this.t.indexSelect(0, idx) };
    } finally {
      idx.dispose();
    }
  }

  /** The filled rows grouped by the teacher's class (argmax of the stored logits), classes ascending. */
  classRows(): number[][] {
    const labels = noGrad(() => {
      const t = this.t!.narrow(0, 0, this.filled);
      const a = t.argmax(1);
      t.dispose();
      const out = a.toInt32Array();
      a.dispose();
      return out;
    });
    const rows: number[][] = [];
    labels.forEach((c, i) => (rows[c] ??= []).push(i));
    return rows.filter((r) => r !== undefined);
  }

  /**
   * m row indices: a class drawn with probability proportional to (its rows)^(1 - classBalance), then a
   * row of it uniformly; two engine-RNG draws per index, so a seed still fixes the batch.
   */
  private balancedIndex(m: number): Tensor {
    const groups = this.classRows();
    const w = groups.map((g) => Math.pow(g.length, 1 - this.classBalance));
    const total = w.reduce((a, b) => a + b, 0);
    const cum: number[] = [];
    w.reduce((acc, v, i) => (cum[i] = acc + v / total), 0);
    const u = rand([2 * m], 'float32', this.x!.device as Device);
    const r = u.toFloat32Array();
    u.dispose();
    const idx = new Int32Array(m);
    for (let k = 0; k < m; k++) {
      let c = cum.findIndex((v) => r[2 * k] < v);
      if (c < 0) c = groups.length - 1;
      const g = groups[c];
      idx[k] = g[Math.min(g.length - 1, Math.floor(r[2 * k + 1] * g.length))];
    }
    return tensor(idx, [m], 'int32', this.x!.device as Device);
  }

  /** Checkpoint tensors (the live rows allocated so far; none before the first sample) and scalars. */
  state(prefix: string): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    if (this.x && this.t) {
      m.set(`${prefix}x`, this.x);
      m.set(`${prefix}t`, this.t);
    }
    return m;
  }
  meta(prefix: string): Record<string, number> {
    return { [`${prefix}filled`]: this.filled, [`${prefix}next`]: this.next, [`${prefix}seen`]: this.seen };
  }

  /** Restores the ring from checkpoint tensors (copied: the caller disposes its own). */
  load(tensors: Map<string, Tensor>, meta: Record<string, number | boolean>, prefix: string): void {
    const x = tensors.get(`${prefix}x`);
    const t = tensors.get(`${prefix}t`);
    const filled = Number(meta[`${prefix}filled`] ?? 0);
    const next = Number(meta[`${prefix}next`] ?? 0);
    const seen = Number(meta[`${prefix}seen`] ?? 0);
    if (!x || !t) {
      if (filled > 0) throw new DfkdError(`checkpoint: replay buffer holds ${filled} samples in its metadata but its tensors '${prefix}x'/'${prefix}t' are missing`, 'ECORRUPT');
      this.filled = this.next = this.seen = 0;
      return;
    }
    const rows = x.shape[0];
    if (rows > this.capacity || t.shape[0] !== rows || rows < filled) {
      throw new DfkdError(`checkpoint: replay buffer has ${rows} rows (${t.shape[0]} logit rows, ${filled} filled), the config says tadfkd.replay.size = ${this.capacity}`, 'ECORRUPT');
    }
    this.dispose();
    noGrad(() => {
      this.x = keep(this.device ? x.to(this.device) : x.clone());
      this.t = keep(this.device ? t.to(this.device) : t.clone());
    });
    this.filled = filled;
    this.next = next;
    this.seen = seen;
  }

  dispose(): void {
    this.x?.dispose();
    this.t?.dispose();
    this.x = this.t = undefined;
  }
}
