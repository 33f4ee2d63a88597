/**
 * Declarative feature capture ("record the output of these blocks"): forward hooks that store a
 * module's input or output while active, instead of models patched to return features.
 */
import { Tensor } from '../tensor';
import { Module, HookHandle } from '../nn';

export class FeatureRecorder {
  active = false;
  private store: (Tensor | undefined)[];
  private readonly handles: HookHandle[];

  constructor(modules: Module[], readonly what: 'input' | 'output' = 'output') {
    this.store = modules.map(() => undefined);
    this.handles = modules.map((m, i) =>
      m.registerForwardHook((_m, input, output) => {
        if (this.active) this.store[i] = what === 'input' ? input : output;
      }),
    );
  }

  /** Runs `fn` with recording on and returns what was recorded (one tensor per module). */
  capture<T>(fn: () => T): { result: T; features: Tensor[] } {
    this.store = this.store.map(() => undefined);
    this.active = true;
    let result: T;
    try {
      result = fn();
    } finally {
      this.active = false;
    }
    const features = this.store.map((t, i) => {
      if (!t) throw new Error(`FeatureRecorder: module ${i} did not run during the forward pass`);
      return t;
    });
    return { result, features };
  }

  remove(): void {
    for (const h of this.handles) h.remove();
  }
}
