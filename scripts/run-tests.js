#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in test runner and
// exits with its status. Extra arguments are passed on (e.g. a file filter: npm test -- famfs).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'e2e') out = out.concat(findTests(p));
    } else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = findTests('dist/test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/test' + (filters.length ? ` matching ${filters.join(', ')}` : ''));
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...flags, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
