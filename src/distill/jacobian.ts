/**
 * tadfkd.jacobian: the student matches the teacher's input gradients as well as its logits on some rows of
 * each student batch (Srinivas & Fleuret 2018, "Knowledge transfer with Jacobian matching"). A logit says
 * what the teacher answers at a synthetic sample; the gradient of its top-2 margin says which change of the
 * image would change that answer, the evidence that separates neighbouring classes (shirts from
 * pullovers), which logits alone carry only across many samples.
 */
import { Tensor, tensor, grad, enableGrad, noGrad, Device } from '../tensor';
import type { Module } from '../nn';
import * as L from './losses';

export interface JacobianOptions {
  /** Weight of the matching term (in [0, 4]) beside the student's logit loss. */
  weight: number;
  /** Rows of each batch that get the term, evenly strided over the batch. */
  rows: number;
}

/**
 * The student's loss on batch x (targets t) plus the input-gradient matching term: one student forward on
 * the whole batch (training mode, so its BN statistics are the batch's, as without the term), the logit loss
 * `logitLoss(s, t)` on every row, and on the strided rows the squared distance between the unit input
 * gradients of the top-2 margin (the teacher's top two classes) of student and teacher. The student's
 * gradient is differentiable (double backward); the teacher's is a constant.
 */
export function withJacobianMatch(
  student: Module,
  teacher: Module,
  x: Tensor,
  t: Tensor,
  o: JacobianOptions,
  logitLoss: (s: Tensor, t: Tensor) => Tensor,
): { loss: Tensor; log: Record<string, number> } {
  const n = x.shape[0];
  const rows = Math.min(o.rows, n);
  const idx = tensor(Array.from({ length: rows }, (_, i) => Math.floor((i * n) / rows)), [rows], 'int64', x.device as Device);
  const dir = noGrad(() => L.marginDirection(t.indexSelect(0, idx)));
  const gt = enableGrad(() => {
    const xr = x.indexSelect(0, idx).detach().requiresGrad_();
    return grad(teacher.call(xr).mul(dir).sum(), [xr])[0];
  });
  const xg = x.detach().requiresGrad_();
  const s = student.call(xg);
  const base = logitLoss(s, t);
  const [gAll] = grad(s.indexSelect(0, idx).mul(dir).sum(), [xg], { createGraph: true });
  const match = L.inputGradientMatch(gAll.indexSelect(0, idx), gt);
  return { loss: base.add(match.mul(o.weight)), log: { loss_s: base.item(), jacobian: match.item() } };
}
