/** The `dfkd` command line. */
import { Command, CommanderError } from 'commander';
import { DFKD_VERSION } from '../versions';
import { registerTeacherCommands } from './cmd-teacher';
import { registerDistillCommand } from './cmd-distill';
import { registerInteropCommands } from './cmd-interop';
import { registerStudyCommand } from './cmd-study';
import { registerTrustCommand } from './cmd-trust';
import { registerWorkerCommand } from './cmd-worker';
import { LIMITS_HELP } from './limits-help';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('dfkd')
    .description('Data-free knowledge distillation: compress a trained teacher into a small student without its training data (TA-DFKD and baselines).')
    .version(DFKD_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', LIMITS_HELP);
  registerTeacherCommands(program);
  registerDistillCommand(program);
  registerInteropCommands(program);
  registerStudyCommand(program);
  registerTrustCommand(program);
  registerWorkerCommand(program);
  return program;
}

export function main(argv: string[]): void {
  const program = buildProgram();
  const onExit = (err: CommanderError): never => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(2);
  };
  // Usage errors (bad option values, unknown options) exit 2 in every subcommand, not only at the top level.
  for (const c of [program, ...program.commands]) c.exitOverride(onExit);
  program.parseAsync(argv).catch((e: Error) => {
    process.stderr.write(`dfkd: error: ${e.message}\n`);
    process.exit(1);
  });
}
