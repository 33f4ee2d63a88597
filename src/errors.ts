/**
 * User-facing error type for dfkd. Every error that a user can cause (bad file,
 * bad option, missing dataset, ...) is thrown as a DfkdError with a message that
 * names the file/field, the expected value and the actual value.
 */
export class DfkdError extends Error {
  /**
   * @param message human-readable description of what went wrong
   * @param code machine-readable code (default 'EDFKD'; e.g. 'ENOSPC', 'ENOENT')
   */
  constructor(message: string, public readonly code: string = 'EDFKD') {
    super(message);
    this.name = 'DfkdError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
