import { status } from '@grpc/grpc-js';
import { isFamfsError } from '../famfs/index.js';
import type { FamfsErrorCode } from '../famfs/index.js';

/** An error with the gRPC status code the CSI spec prescribes for it. */
export class CsiError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'CsiError';
  }
}

export const invalidArgument = (msg: string) => new CsiError(status.INVALID_ARGUMENT, msg);
export const notFound = (msg: string) => new CsiError(status.NOT_FOUND, msg);
export const alreadyExists = (msg: string) => new CsiError(status.ALREADY_EXISTS, msg);
export const outOfRange = (msg: string) => new CsiError(status.OUT_OF_RANGE, msg);
export const resourceExhausted = (msg: string) => new CsiError(status.RESOURCE_EXHAUSTED, msg);
export const failedPrecondition = (msg: string) => new CsiError(status.FAILED_PRECONDITION, msg);
export const aborted = (msg: string) => new CsiError(status.ABORTED, msg);
export const unavailable = (msg: string) => new CsiError(status.UNAVAILABLE, msg);
export const internal = (msg: string) => new CsiError(status.INTERNAL, msg);

const FAMFS_STATUS: Record<FamfsErrorCode, status> = {
  INVALID: status.INVALID_ARGUMENT,
  CORRUPT: status.INTERNAL,
  BAD_VERSION: status.FAILED_PRECONDITION,
  NO_SUPERBLOCK: status.FAILED_PRECONDITION,
  EXISTS: status.ALREADY_EXISTS,
  NOT_FOUND: status.NOT_FOUND,
  NO_SPACE: status.RESOURCE_EXHAUSTED,
  LOG_FULL: status.RESOURCE_EXHAUSTED,
  NOT_MASTER: status.FAILED_PRECONDITION,
  DEVICE: status.UNAVAILABLE,
  TOO_SMALL: status.FAILED_PRECONDITION,
  READ_ONLY: status.FAILED_PRECONDITION,
};

/** Maps anything thrown by a handler to a CsiError; unknown errors become INTERNAL. */
export function toCsiError(err: unknown): CsiError {
  if (err instanceof CsiError) return err;
  if (isFamfsError(err)) return new CsiError(FAMFS_STATUS[err.code], err.message);
  return new CsiError(status.INTERNAL, err instanceof Error ? err.message : String(err));
}

export function statusName(code: status): string {
  return status[code] ?? String(code);
}
