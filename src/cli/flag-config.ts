/**
 * Config values given as `dfkd distill` flags are usage errors (exit 2, as docs/reliability.md says)
 * when invalid, named by their flag; the same values in a --config file stay config errors (exit 1).
 */
import { DfkdError } from '../errors';
import { resolveConfig, PartialConfig } from '../distill/config';

/** Config field (as zod names it) -> the flag that sets it. */
const FLAG_OF: Record<string, string> = {
  method: '--method',
  seed: '--seed',
  iterations: '--iterations',
  batchSize: '--batch-size',
  'weights.classPrior': '--class-prior',
  'selection.threshold': '--selection-threshold',
  'selection.criterion': '--selection-criterion',
};

/** Validates the flags' config values on their own (over the defaults); throws EUSAGE naming the flags. */
export function checkFlagConfig(method: string, flags: PartialConfig): void {
  try {
    resolveConfig(method, '', {}, flags);
  } catch (e) {
    if (!(e instanceof DfkdError) || e.code !== 'ECONFIG') throw e;
    const msg = e.message
      .replace(/^distill config: invalid config:/, 'invalid option value:')
      .replace(/^ {2}- ([\w.]+):/gm, (all, field: string) => (FLAG_OF[field] ? `  - ${FLAG_OF[field]}:` : all))
      .replace(/^unknown method/, '--method: unknown method');
    throw new DfkdError(msg, 'EUSAGE');
  }
}
