/**
 * Checkpoints of the whole training state (ZSKT's "resume completely from last"): student, its
 * optimiser, the synthesizer (generator + optimiser, or image pool), the schedule, the RNG streams, the
 * evaluation history and the NaN-rollback state. Written every `checkpointEvery` iterations and on a
 * stop request; restored on --resume.
 */
import { Tensor, tensor, getRngState, setRngState } from '../../tensor';
import { DfkdError } from '../../errors';
import { saveCheckpoint, loadLatestCheckpoint } from '../checkpoint';
import { writeRunLog } from '../../io/run-dir';
import { elapsed, type Callback, type EvalPoint, type TrainContext, type TrainState } from '../trainer';
import { applyLrScale } from './nan-guard';

export function saveTrainCheckpoint(c: TrainContext, s: TrainState): void {
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of c.student.stateDict()) tensors.set(`student.${k}`, t);
  const optS = c.method.studentOpt.stateDict();
  for (const [k, t] of optS.tensors) tensors.set(`optS.${k}`, t);
  for (const [k, t] of c.method.synthState()) tensors.set(`synth.${k}`, t);
  if (c.ema) for (const [k, t] of c.ema.state()) tensors.set(`ema.${k}`, t);
  const rng = tensor(getRngState(), undefined, 'uint8');
  tensors.set('rng', rng);
  // On a GPU the CUDA generator (noise, pool indices) is saved too; CPU checkpoints are unchanged.
  const rngCuda = c.device ? tensor(getRngState(c.device), undefined, 'uint8') : undefined;
  if (rngCuda) tensors.set('rng_cuda', rngCuda);
  try {
    const nanState = s.rollbacks > 0 ? { nanRollbacks: s.rollbacks, lrScale: s.lrScale } : {};
    const ema = c.ema ? { emaSteps: c.ema.steps } : {};
    const meta = { iteration: s.iteration, optS: optS.meta, synth: c.method.synthMeta(), sched: c.sched.stateDict(), history: s.history, elapsed: elapsed(s), configHash: c.configHash, ...nanState, ...ema };
    saveCheckpoint(c.runDir, s.iteration, tensors, meta);
  } finally {
    rng.dispose();
    rngCuda?.dispose();
  }
}

/** Loads a checkpoint's tensors and state into the student, its optimiser, the synthesizer, the schedule and the RNG. */
export function restoreCheckpoint(c: TrainContext, t: Map<string, Tensor>, meta: Record<string, unknown>): void {
  const pick = (prefix: string): Map<string, Tensor> => {
    const m = new Map<string, Tensor>();
    for (const [k, v] of t) if (k.startsWith(prefix)) m.set(k.slice(prefix.length), v);
    return m;
  };
  c.student.loadStateDict(pick('student.'), { origin: 'checkpoint (student)' });
  c.method.studentOpt.loadStateDict({ meta: meta.optS as Record<string, number | boolean>, tensors: pick('optS.') });
  c.method.loadSynthState(pick('synth.'), meta.synth as Record<string, number | boolean>);
  if (c.ema) {
    if (typeof meta.emaSteps !== 'number') throw new DfkdError('checkpoint has no student average (studentEma) although the run has one', 'ECORRUPT');
    c.ema.load(pick('ema.'), meta.emaSteps);
  }
  c.sched.loadStateDict(meta.sched as { lastEpoch: number });
  const rng = t.get('rng');
  if (!rng) throw new DfkdError('checkpoint has no RNG state', 'ECORRUPT');
  setRngState(rng.toArray() as Uint8Array);
  const rngCuda = t.get('rng_cuda');
  if (c.device && rngCuda) setRngState(rngCuda.toArray() as Uint8Array, c.device);
  else if (c.device) c.warn('the checkpoint was written on the CPU: the CUDA random stream restarts from the seed, so this resumed run will not repeat an uninterrupted one');
  else if (rngCuda) c.warn('the checkpoint was written on a GPU and the run continues on the CPU: it will not repeat an uninterrupted run on either device');
}

/** Restores the latest checkpoint on resume; saves one every `checkpointEvery` iterations (not at the end). */
export class Checkpoints implements Callback {
  /** `resumingRun`: the directory held this unfinished run (a missing checkpoint is then worth a warning). */
  constructor(
    private readonly resume: boolean,
    private readonly resumingRun = false,
  ) {}

  beforeTrain(c: TrainContext, s: TrainState): void {
    const ckpt = this.resume ? loadLatestCheckpoint(c.runDir, c.warn) : undefined;
    if (this.resumingRun && !ckpt) c.warn(`run '${c.runDir}' has no checkpoint yet (it stopped before iteration ${c.cfg.checkpointEvery}): starting it again from iteration 0`);
    if (ckpt) {
      try {
        restoreCheckpoint(c, ckpt.tensors, ckpt.meta);
        s.iteration = ckpt.iteration;
        s.history = (ckpt.meta.history as EvalPoint[]) ?? [];
        s.elapsedBefore = Number(ckpt.meta.elapsed ?? 0);
        s.rollbacks = Number(ckpt.meta.nanRollbacks ?? 0);
        s.lrScale = Number(ckpt.meta.lrScale ?? 1);
        applyLrScale(c, s);
      } finally {
        for (const t of ckpt.tensors.values()) t.dispose();
      }
    }
    // Drop log lines written after the checkpoint (they will be recomputed identically).
    writeRunLog(c.runDir, s.history);
  }

  afterIteration(c: TrainContext, s: TrainState): void {
    if (s.iteration % c.cfg.checkpointEvery === 0 && s.iteration < c.cfg.iterations) saveTrainCheckpoint(c, s);
  }
}

/** Polls `shouldStop` after each iteration: a stop request checkpoints and ends the run (resumable). */
export class StopRequest implements Callback {
  constructor(private readonly shouldStop: () => boolean) {}
  afterYield(c: TrainContext, s: TrainState): void {
    if (this.shouldStop() && s.iteration < c.cfg.iterations) {
      saveTrainCheckpoint(c, s);
      s.exit = { kind: 'stopped' };
    }
  }
}
