/** Versions and machine facts recorded with every result. */
import * as os from 'os';
import { engineInfo, getNumThreads } from './tensor';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const pkg = require('../../package.json') as { version: string };

export const DFKD_VERSION: string = pkg.version;

export interface Versions {
  dfkd: string;
  node: string;
  libtorch: string;
  threads: number;
  cpu: string;
  cores: number;
  platform: string;
}

export function versions(): Versions {
  return {
    dfkd: DFKD_VERSION,
    node: process.version,
    libtorch: engineInfo().torchVersion,
    threads: getNumThreads(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    platform: `${os.platform()}-${os.arch()}`,
  };
}
