/** How long one call to the API server (or a report channel) may take before it counts as failed. */
export const CALL_TIMEOUT_MS = 15_000;

/**
 * `promise`, or a rejection naming `what` after `ms`: a hung API server connection must not stall
 * health reporting forever (the late call may still finish; its result is ignored).
 */
export function withDeadline<T>(promise: Promise<T>, what: string, ms = CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
