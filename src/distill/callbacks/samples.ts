/** Sample grids: a PNG of the synthesizer's current samples every `sampleEvery` iterations and at the end. */
import * as path from 'path';
import { savePngGrid } from '../../io/png';
import { runPaths, sampleFileName } from '../../io/run-dir';
import type { DistillMethod } from '../method';
import type { Callback, TrainContext, TrainState } from '../trainer';

export function writeSamples(runDir: string, method: DistillMethod, iteration: number): void {
  const p = method.preview(64);
  if (p.shape[0] === 0) return;
  savePngGrid(path.join(runPaths(runDir).samples, sampleFileName(iteration)), p.images, p.shape, { nrow: 8, marks: p.marks, scale: 2 });
}

export class SampleGrids implements Callback {
  afterIteration(c: TrainContext, s: TrainState): void {
    if (s.iteration % c.cfg.sampleEvery === 0 || s.iteration === c.cfg.iterations) writeSamples(c.runDir, c.method, s.iteration);
  }
}
