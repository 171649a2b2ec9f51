import { readFileSync } from 'node:fs';

/** Reads the Dockerfile's instructions and .dockerignore's rules for the build-context tests. */
export interface Instruction {
  stage: string;
  keyword: string;
  args: string;
}

export function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const out: Instruction[] = [];
  let stage = '';
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') stage = /\sAS\s+(\S+)/i.exec(m[2]!)?.[1] ?? m[2]!;
    out.push({ stage, keyword, args: m[2]! });
  }
  return out;
}

/** COPY sources taken from the build context (not --from=stage), with their flags removed. */
export function contextCopySources(instructions: Instruction[]): string[] {
  return instructions
    .filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && !/--from=/.test(i.args))
    .flatMap((i) => {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      return words.slice(0, -1);
    });
}

interface Rule {
  negate: boolean;
  re: RegExp;
}

/** .dockerignore rules as Docker applies them: the last matching rule wins; `!` re-includes. */
export function parseDockerignore(text: string): Rule[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, re: globToRegExp(pattern) };
    });
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A pattern also excludes everything under a matching directory.
  return new RegExp(`^${re}(/.*)?$`);
}

export function isIgnored(rules: Rule[], path: string): boolean {
  let ignored = false;
  for (const r of rules) if (r.re.test(path)) ignored = !r.negate;
  return ignored;
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
