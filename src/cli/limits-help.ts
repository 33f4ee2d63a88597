/** The limits dfkd enforces on its input (docs/reliability.md), shown at the end of `dfkd --help`. */
import { MAX_ITERATIONS } from '../distill/config';
import { MAX_IMAGE_SIDE, MAX_FOLDER_BYTES } from '../data/image-header';
import { MAX_JSON_DEPTH } from '../io/json';
import { EXTERNAL_WEIGHTS_ENV } from '../io/records';
import { SIGNAL_REPEAT_WINDOW_MS } from '../distill/stop-signals';

export const LIMITS_HELP = `
Limits (docs/reliability.md):
  images (imagefolder)   at most ${MAX_IMAGE_SIDE} pixels a side, read from the header before decoding;
                         at most ${MAX_FOLDER_BYTES / 2 ** 30} GiB of decoded pixels per folder
  iterations             at most ${MAX_ITERATIONS.toLocaleString('en-US')} (--iterations, config "iterations")
  config files           nested at most ${MAX_JSON_DEPTH} levels; no "__proto__" key
  weights                a record's weightsFile must lie inside its model directory, unless
                         ${EXTERNAL_WEIGHTS_ENV}=1 is set in the environment
  output                 --out must be a directory on a normal filesystem (not /proc, /sys, ...);
                         import and train-teacher write only into an empty directory or their own;
                         export never creates directories and overwrites only with --force
  signals                SIGINT/SIGTERM stop after a checkpoint; the same signal again within
                         ${SIGNAL_REPEAT_WINDOW_MS / 1000} s counts once, later (or another signal) exits at once
`;
