import { join } from 'node:path';
import { REPO_DIR } from './helm.js';

/** The value sets the chart is rendered with in CI: name -> value files (none: chart defaults). */
export const VALUE_SETS: Record<string, string[]> = {
  default: [],
  emulated: [join(REPO_DIR, 'test', 'chart', 'values', 'emulated.yaml')],
  'real-device': [join(REPO_DIR, 'test', 'chart', 'values', 'real-device.yaml')],
  'e2e-kind': [join(REPO_DIR, 'test', 'e2e', 'values-kind.yaml')],
};
