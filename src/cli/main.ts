#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { isFamfsError } from '../famfs/index.js';
import { UsageError } from './args.js';
import { ConfigError } from '../csi/config.js';

const USAGE = `famfs-csi: shared memory (famfs on CXL / fabric-attached dax) for Kubernetes

Usage: famfs-csi <command> [options]

Commands:
  local        run on this machine with an embedded emulated pool (see famfs-csi local --help)
  controller   run the CSI controller plugin (Identity + Controller services)
  node         run the CSI node plugin (Identity + Node services) on this node
  mount        serve a pool as a FUSE file system (started by the node plugin)
  pool-servers keep one FUSE server per configured pool running (node plugin --pool-servers external)
  csi          call one CSI RPC on a plugin socket and print the answer
  pool         format, check, list and edit famfs pools (see famfs-csi pool help)
  version      print the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Each command loads only its own modules: `famfs-csi pool ls` does not pay for gRPC or Kubernetes. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'pool':
      return (await import('./pool.js')).poolCommand(rest);
    case 'local':
      return (await import('./local.js')).localCommand(rest);
    case 'controller':
      return (await import('./controller.js')).controllerCommand(rest);
    case 'node':
      return (await import('./node.js')).nodeCommand(rest);
    case 'csi':
      return (await import('./csiClient.js')).csiCommand(rest);
    case 'mount':
      return (await import('./mount.js')).mountCommand(rest);
    case 'pool-servers':
      return (await import('./poolServers.js')).poolServersCommand(rest);
    case 'version':
    case '--version':
      process.stdout.write(`famfs-csi ${version()}\n`);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(command === undefined ? USAGE : `famfs-csi: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof Error && 'code' in err && String((err as { code: unknown }).code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`famfs-csi: ${err.message}\n`);
      process.exitCode = 2;
    } else if (isFamfsError(err) || err instanceof ConfigError) {
      process.stderr.write(`famfs-csi: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`famfs-csi: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
