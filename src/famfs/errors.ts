/**
 * Errors of the famfs core. `code` is stable and meant for callers (the CSI layer maps it to gRPC
 * status codes); `message` is for people and names the offending field and value.
 */
export type FamfsErrorCode =
  | 'INVALID' // bad argument: a path, size, mode or parameter
  | 'CORRUPT' // on-media structure failed validation
  | 'BAD_VERSION' // a famfs superblock of a version we do not handle
  | 'NO_SUPERBLOCK' // not a famfs device at all
  | 'EXISTS'
  | 'NOT_FOUND'
  | 'NO_SPACE'
  | 'LOG_FULL'
  | 'NOT_MASTER'
  | 'DEVICE' // the device could not be opened, sized or mapped
  | 'TOO_SMALL'
  | 'READ_ONLY';

export class FamfsError extends Error {
  constructor(
    readonly code: FamfsErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'FamfsError';
  }
}

export function isFamfsError(e: unknown, code?: FamfsErrorCode): e is FamfsError {
  return e instanceof FamfsError && (code === undefined || e.code === code);
}
