import type { Fmap } from './fmap.js';
import { splitParent } from './paths.js';

/** The in-memory tree a log replays into. `index` is the log entry that created the node. */
export interface FileNode {
  kind: 'file';
  name: string;
  relpath: string;
  index: number;
  size: number;
  flags: number;
  uid: number;
  gid: number;
  mode: number;
  fmap: Fmap;
}

export interface DirNode {
  kind: 'dir';
  name: string;
  relpath: string;
  index: number;
  uid: number;
  gid: number;
  mode: number;
  children: Map<string, FamfsNode>;
}

export type FamfsNode = FileNode | DirNode;

export class Namespace {
  readonly root: DirNode = { kind: 'dir', name: '', relpath: '', index: -1, uid: 0, gid: 0, mode: 0o755, children: new Map() };
  private files = 0;
  private dirs = 0;

  get fileCount(): number {
    return this.files;
  }

  get dirCount(): number {
    return this.dirs;
  }

  lookup(relpath: string): FamfsNode | undefined {
    if (relpath === '') return this.root;
    let node: FamfsNode = this.root;
    for (const part of relpath.split('/')) {
      if (node.kind !== 'dir') return undefined;
      const next: FamfsNode | undefined = node.children.get(part);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  /** Adds `node` under its parent, which the caller has checked is an existing directory. */
  insert(node: FamfsNode): void {
    const parent = this.lookup(splitParent(node.relpath).parent) as DirNode;
    parent.children.set(node.name, node);
    if (node.kind === 'file') this.files++;
    else this.dirs++;
  }

  /** Removes the node at `relpath` and everything under it; returns the removed files. */
  remove(relpath: string): FileNode[] {
    const { parent, name } = splitParent(relpath);
    const dir = this.lookup(parent);
    const node = dir?.kind === 'dir' ? dir.children.get(name) : undefined;
    if (!dir || dir.kind !== 'dir' || !node) return [];
    dir.children.delete(name);
    const removed: FileNode[] = [];
    for (const n of walk(node)) {
      if (n.kind === 'file') {
        removed.push(n);
        this.files--;
      } else this.dirs--;
    }
    return removed;
  }

  *walk(): Generator<FamfsNode> {
    for (const child of this.root.children.values()) yield* walk(child);
  }
}

function* walk(node: FamfsNode): Generator<FamfsNode> {
  yield node;
  if (node.kind === 'dir') for (const child of node.children.values()) yield* walk(child);
}
