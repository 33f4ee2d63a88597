/**
 * Module: the base of every layer and model. Parameters, buffers and children are registered by
 * name so that `stateDict()` produces PyTorch's names (`features.0.weight`, `bn1.running_mean`...).
 * Forward hooks let a caller observe a layer's input and output without patching the model.
 */
import { Tensor, noGrad, keep, tidy, release, Device, sameDevice } from '../tensor';

export type ForwardHook = (module: Module, input: Tensor, output: Tensor) => void;
export interface HookHandle {
  remove(): void;
}

export abstract class Module {
  /** Train mode (BatchNorm batch statistics, dropout active) vs eval mode. */
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  private readonly hooks = new Set<ForwardHook>();

  /** The computation; call the module with `module.call(x)` so that hooks run. */
  abstract forward(x: Tensor): Tensor;

  /** Runs forward() and then every forward hook with (module, input, output). */
  call(x: Tensor): Tensor {
    const y = this.forward(x);
    for (const hook of this.hooks) hook(this, x, y);
    return y;
  }

  /** Whether this module or any descendant has a forward hook (something may observe its tensors). */
  hasForwardHooks(): boolean {
    if (this.hooks.size > 0) return true;
    for (const c of this.children.values()) if (c.hasForwardHooks()) return true;
    return false;
  }

  registerForwardHook(hook: ForwardHook): HookHandle {
    this.hooks.add(hook);
    return { remove: () => this.hooks.delete(hook) };
  }

  /** Registers a trainable parameter (kept out of tidy scopes; requiresGrad set). */
  protected registerParameter(name: string, t: Tensor): Tensor {
    keep(t);
    if (!t.requiresGrad) t.requiresGrad = true;
    this.params.set(name, t);
    return t;
  }
  /** Registers a non-trainable state tensor saved in the state dict (e.g. running_mean). */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    keep(t);
    this.buffers.set(name, t);
    return t;
  }
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Direct children, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.children.entries()];
  }
  /** This module and every descendant with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.params) out.push([prefix ? `${prefix}.${n}` : n, p]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this.buffers) out.push([prefix ? `${prefix}.${n}` : n, b]);
    for (const [n, c] of this.children) out.push(...c.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  /** Number of trainable parameter elements (PyTorch's `sum(p.numel() for p in m.parameters())`). */
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.size, 0);
  }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Turns gradient recording on/off for every parameter (off = frozen, e.g. a teacher). */
  requiresGrad_(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = on;
    return this;
  }
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /**
   * Moves every parameter and buffer to `device` IN PLACE (like PyTorch's `module.to(device)`):
   * the Tensor objects stay the same (so layers' fields and anything holding `parameters()` keep
   * working) and only their data moves. Accumulated gradients are dropped. Move a module before
   * creating its optimizer, or call the optimizer's `to(device)` afterwards: optimizer state (Adam
   * moments, momentum buffers) is not part of the module. A no-op when already there.
   */
  to(device: Device): this {
    noGrad(() =>
      tidy(() => {
        for (const t of this.stateDict().values()) if (!sameDevice(t.device, device)) t.setData_(t.detach().to(device));
      }),
    );
    return this;
  }
  /** The device of the first parameter or buffer ('cpu' for a module without tensors). */
  get device(): Device {
    const first = this.stateDict().values().next();
    return (first.done ? 'cpu' : first.value.device) as Device;
  }

  /** Parameters and buffers by PyTorch name, in registration order (the live tensors, not copies). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const visit = (m: Module, prefix: string): void => {
      for (const [n, p] of m.params) out.set(prefix + n, p);
      for (const [n, b] of m.buffers) out.set(prefix + n, b);
      for (const [n, c] of m.children) visit(c, `${prefix}${n}.`);
    };
    visit(this, '');
    return out;
  }

  /**
   * Copies values from `source` into this module's parameters and buffers. Every missing,
   * unexpected, mis-shaped or wrongly typed entry is collected and reported in one error.
   */
  loadStateDict(source: Map<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean; origin?: string } = {}): void {
    const src = source instanceof Map ? source : new Map(Object.entries(source));
    const own = this.stateDict();
    const problems: string[] = [];
    for (const [name, t] of own) {
      const s = src.get(name);
      if (!s) {
        problems.push(`missing tensor '${name}' (expected shape [${t.shape.join(',')}])`);
        continue;
      }
      if (s.shape.join(',') !== t.shape.join(',')) {
        problems.push(`tensor '${name}' has shape [${s.shape.join(',')}], expected [${t.shape.join(',')}]`);
      }
    }
    if (opts.strict !== false) {
      for (const name of src.keys()) if (!own.has(name)) problems.push(`unexpected tensor '${name}'`);
    }
    if (problems.length > 0) {
      throw new Error(`cannot load weights${opts.origin ? ` from ${opts.origin}` : ''} into ${this.constructor.name}: ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
    }
    noGrad(() =>
      tidy(() => {
        for (const [name, t] of own) {
          const s = src.get(name)!;
          t.copy_(s.dtype === t.dtype && s.device === t.device ? s : s.to({ dtype: t.dtype, device: t.device as Device }));
        }
      }),
    );
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const t of this.stateDict().values()) t.dispose();
  }
}

/** Runs modules one after another; children are named "0", "1", ... like torch.nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((l, i) => this.registerModule(String(i), l));
  }
  /**
   * Runs the layers in order. Each layer runs in its own tidy() and the previous layer's output is
   * freed as soon as the next one has consumed it, so the working set is about one layer's
   * intermediates rather than the whole chain's (what C++ temporaries give libtorch). Autograd keeps
   * whatever backward needs on its own. When a layer or one of its descendants has a forward hook,
   * the hook may hold on to tensors, so the plain chain runs instead.
   */
  forward(x: Tensor): Tensor {
    if (this.layers.some((l) => l.hasForwardHooks())) {
      let y = x;
      for (const l of this.layers) y = l.call(y);
      return y;
    }
    return tidy(() => {
      let y = x;
      for (const l of this.layers) {
        const prev = y;
        y = tidy(() => l.call(prev));
        if (y !== prev) release(prev);
      }
      return y;
    });
  }
}
