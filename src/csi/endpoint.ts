import { resolve } from 'node:path';

/**
 * A CSI endpoint: "unix:///abs/path", "unix://rel/path", "unix:rel" or a plain path. Returns the
 * socket path and the target string grpc-js binds or dials.
 */
export function parseEndpoint(endpoint: string): { path: string; target: string } {
  let path: string;
  if (endpoint.startsWith('unix://')) path = endpoint.slice('unix://'.length);
  else if (endpoint.startsWith('unix:')) path = endpoint.slice('unix:'.length);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) throw new Error(`endpoint "${endpoint}" is not a unix socket (expected unix:///path or a path)`);
  else path = endpoint;
  if (path.length === 0) throw new Error(`endpoint "${endpoint}" names no socket path`);
  path = resolve(path);
  return { path, target: `unix://${path}` };
}
