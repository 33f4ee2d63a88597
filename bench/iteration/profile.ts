/**
 * A phase profiler for one TA-DFKD iteration, attached from the outside: it replaces methods of
 * one method instance (and of its teacher, student and synthesizer) with timed wrappers. Times
 * are exclusive: a phase's time excludes the wrapped calls nested in it, so the phases add up to
 * the wall time of the wrapped top-level calls. libtorch's CPU ops are synchronous, so wall time
 * around a call is the time of its ops. Nothing in src changes and nothing is paid when the
 * profiler is not attached.
 *
 * The same wrappers count the samples that go through each network per mode, from which
 * flops.ts computes the FLOPs of an iteration.
 */
import { performance } from 'perf_hooks';
import type { TADFKD } from '../../src/distill/methods';
import * as gmm from '../../src/distill/gmm';
import { getNumThreads, setNumThreads } from '../../src/tensor';

/** Phase names; bench/torch_iteration.py reports the same ones. */
export const PHASES = [
  'gen_forward_draws', // generator forward (no grad) for the student's draws
  'teacher_select', // teacher forward on the draws, for selection
  'selection', // criterion, copy of the scores, index tensor (everything in select() but the GMM fit)
  'gmm_fit', // selectClean: min-max normalisation, 2-component EM, posteriors
  'draw_other', // indexSelect / cat / narrow of the kept samples
  'teacher_targets', // teacher forward on the kept samples for the student's targets
  'student_forward', // student forward + L1 loss
  'student_backward', // zeroGrad + backward
  'student_opt_step', // SGD step
  'student_step_other', // the rest of studentStep (tidy, mode switches, frees)
  'gstep_gen_forward', // generator forward with grad (generator step)
  'gstep_teacher_bn', // teacher forward with the BN-statistics hooks
  'gstep_select', // selection + GMM fit in the generator step
  'gstep_student_forward', // student forward on the selected samples (the opponent)
  'gstep_losses', // JS adversarial, TV, L2, loss sums
  'gstep_backward', // zeroGrad + backward through student, teacher and generator
  'gstep_adam', // Adam step of the generator
  'check_weights', // the trainer's per-iteration isfinite() check of every weight
] as const;
export type Phase = (typeof PHASES)[number];

/** Samples through each network per mode; see flops.ts for the FLOPs of each. */
export interface SampleCounts {
  gen_nograd: number;
  gen_train: number;
  teacher_nograd: number;
  teacher_inputgrad: number;
  student_train: number;
  student_inputgrad: number;
}
export const emptyCounts = (): SampleCounts => ({ gen_nograd: 0, gen_train: 0, teacher_nograd: 0, teacher_inputgrad: 0, student_train: 0, student_inputgrad: 0 });

interface Frame {
  label: Phase;
  t0: number;
  child: number;
}

export class Profiler {
  readonly totals = new Map<Phase, number>();
  counts: SampleCounts = emptyCounts();
  /** Teacher forwards and draws of the current accumulation window. */
  teacherForwards = 0;
  draws = 0;
  section: 'student' | 'generator' | 'none' = 'none';
  private stack: Frame[] = [];
  private restore: (() => void)[] = [];

  reset(): void {
    this.totals.clear();
    this.counts = emptyCounts();
    this.teacherForwards = 0;
    this.draws = 0;
  }

  /** Runs fn as phase `label` (exclusive time). */
  time<T>(label: Phase, fn: () => T): T {
    const f: Frame = { label, t0: performance.now(), child: 0 };
    this.stack.push(f);
    try {
      return fn();
    } finally {
      this.stack.pop();
      const el = performance.now() - f.t0;
      this.totals.set(label, (this.totals.get(label) ?? 0) + (el - f.child) / 1000);
      const parent = this.stack[this.stack.length - 1];
      if (parent) parent.child += el;
    }
  }

  current(): Phase | undefined {
    return this.stack[this.stack.length - 1]?.label;
  }

  /** Replaces obj[name] by a timed wrapper whose label may depend on the caller's phase. */
  wrap(obj: object, name: string, label: (p: Profiler) => Phase | undefined, onCall?: (args: unknown[]) => void): void {
    const o = obj as Record<string, (...a: unknown[]) => unknown>;
    const orig = o[name];
    if (typeof orig !== 'function') throw new Error(`profiler: ${name} is not a method`);
    const had = Object.prototype.hasOwnProperty.call(o, name);
    const prof = this;
    o[name] = function (this: unknown, ...args: unknown[]): unknown {
      onCall?.(args);
      const l = label(prof);
      return l ? prof.time(l, () => orig.apply(this, args)) : orig.apply(this, args);
    };
    this.restore.push(() => {
      if (had) o[name] = orig;
      else delete o[name];
    });
  }

  /** Attaches to a TA-DFKD method. */
  attach(m: TADFKD): void {
    const sel = (p: Profiler): Phase => (p.section === 'generator' ? 'gstep_select' : 'selection');
    const batch = (a: unknown[]): number => (a[0] as { shape: number[] }).shape[0];
    this.wrap(m, 'studentStep', (p) => ((p.section = 'student'), 'student_step_other'));
    this.wrap(m, 'generatorStep', (p) => ((p.section = 'generator'), 'gstep_backward'));
    this.wrap(m, 'studentBatch', () => 'draw_other');
    this.wrap(m, 'teacherTargets', () => 'teacher_targets');
    this.wrap(m, 'studentLoss', () => 'student_forward');
    this.wrap(m, 'optimizeStudent', () => 'student_backward');
    this.wrap(m.studentOpt, 'step', (p) => (p.section === 'student' ? 'student_opt_step' : undefined));
    this.wrap(m, 'generatorLoss', () => 'gstep_losses');
    this.wrap(m.synth.optimizer, 'step', () => 'gstep_adam');
    this.wrap(m, 'select', sel);
    this.wrap(m.synth, 'generate', (p) => (p.section === 'generator' ? 'gstep_gen_forward' : p.section === 'student' ? 'gen_forward_draws' : undefined), (a) => {
      const n = a[0] as number;
      if (this.section === 'generator') this.counts.gen_train += n;
      else if (this.section === 'student') (this.counts.gen_nograd += n), (this.draws += 1);
    });
    this.wrap(
      m.teacher,
      'call',
      (p) => (p.section === 'generator' ? 'gstep_teacher_bn' : p.current() === 'teacher_targets' ? 'teacher_targets' : p.section === 'student' ? 'teacher_select' : undefined),
      (a) => {
        if (this.section === 'none') return;
        this.teacherForwards += 1;
        if (this.section === 'generator') this.counts.teacher_inputgrad += batch(a);
        else this.counts.teacher_nograd += batch(a);
      },
    );
    this.wrap(
      m.student,
      'call',
      (p) => (p.section === 'generator' ? 'gstep_student_forward' : p.section === 'student' ? 'student_forward' : undefined),
      (a) => {
        if (this.section === 'generator') this.counts.student_inputgrad += batch(a);
        else if (this.section === 'student') this.counts.student_train += batch(a);
      },
    );
    // The GMM fit is a module function: selection.ts calls it through the module object.
    this.wrap(gmm, 'selectClean', (p) => (p.section === 'none' ? undefined : 'gmm_fit'));
  }

  /**
   * Experiment (--student-threads): runs the named methods of `obj` with `threads` intra-op threads
   * and restores the previous count after each call, e.g. 1 thread for the tiny student's
   * forward/backward while the generator and teacher keep all cores.
   */
  withThreads(obj: object, names: string[], threads: number): void {
    for (const name of names) {
      const o = obj as Record<string, (...a: unknown[]) => unknown>;
      const inner = o[name];
      const had = Object.prototype.hasOwnProperty.call(o, name);
      o[name] = function (this: unknown, ...args: unknown[]): unknown {
        const prev = getNumThreads();
        setNumThreads(threads);
        try {
          return inner.apply(this, args);
        } finally {
          setNumThreads(prev);
        }
      };
      this.restore.push(() => {
        if (had) o[name] = inner;
        else delete o[name];
      });
    }
  }

  detach(): void {
    for (const r of this.restore.reverse()) r();
    this.restore = [];
  }

  /** Seconds per phase, divided by `iterations`. */
  perIteration(iterations: number): Record<Phase, number> {
    const out = {} as Record<Phase, number>;
    for (const p of PHASES) out[p] = (this.totals.get(p) ?? 0) / iterations;
    return out;
  }
}
