/** What run.ts hands the scenario processes (env FAMFS_E2E_ENV, JSON). */
export interface E2eEnv {
  kubectl: string;
  namespace: string;
  release: string;
  image: string;
  timeoutSeconds: number;
  diagnosticsDir: string;
  pool: string;
  poolDevice: string;
  storageClass: string;
}

export const E2E_ENV_VAR = 'FAMFS_E2E_ENV';

export function e2eEnv(): E2eEnv {
  const text = process.env[E2E_ENV_VAR];
  if (!text) throw new Error(`${E2E_ENV_VAR} is not set: run the scenarios through npm run e2e`);
  return JSON.parse(text) as E2eEnv;
}
