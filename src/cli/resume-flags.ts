/**
 * `dfkd distill --resume DIR` continues a run with the config recorded in DIR: flags that would change
 * the run (its identity, the config hash) are refused instead of silently dropped (issue 15).
 */
import type { Command } from 'commander';
import { DfkdError } from '../errors';

/** Options that may change when a run is resumed: they do not change what the run computes. */
export const RESUMABLE_OPTIONS = ['resume', 'onNan', 'device', 'dataPath'] as const;

/** Throws a usage error naming every option given on the command line that cannot change on resume. */
export function checkResumeFlags(cmd: Command, resumeDir: string): void {
  const allowed = new Set<string>(RESUMABLE_OPTIONS);
  const refused = cmd.options
    .filter((opt) => !allowed.has(opt.attributeName()) && cmd.getOptionValueSource(opt.attributeName()) === 'cli')
    .map((opt) => opt.long ?? opt.flags);
  if (refused.length === 0) return;
  const ok = cmd.options.filter((opt) => allowed.has(opt.attributeName()) && opt.attributeName() !== 'resume').map((opt) => opt.long);
  throw new DfkdError(
    `--resume ${resumeDir} continues the run with the settings recorded in its config.json; ${refused.join(', ')} cannot change on resume ` +
      `(allowed with --resume: ${ok.join(', ')}); to change them start a new run with --out`,
    'EUSAGE',
  );
}
