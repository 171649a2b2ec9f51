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
  /** Every directory by relpath, so a lookup costs one map get, not a walk. */
  private readonly dirs = new Map<string, DirNode>([['', this.root]]);
  private files = 0;

  get fileCount(): number {
    return this.files;
  }

  get dirCount(): number {
    return this.dirs.size - 1;
  }

  directory(relpath: string): DirNode | undefined {
    return this.dirs.get(relpath);
  }

  lookup(relpath: string): FamfsNode | undefined {
    const dir = this.dirs.get(relpath);
    if (dir) return dir;
    const { parent, name } = splitParent(relpath);
    return this.dirs.get(parent)?.children.get(name);
  }

  /** Adds `node` under `parent` (default: looked up), which the caller has checked is a directory. */
  insert(node: FamfsNode, parent: DirNode = this.dirs.get(splitParent(node.relpath).parent)!): void {
    parent.children.set(node.name, node);
    if (node.kind === 'file') this.files++;
    else this.dirs.set(node.relpath, node);
  }

  /** Removes the node at `relpath` and everything under it; returns the removed files. */
  remove(relpath: string): FileNode[] {
    const { parent, name } = splitParent(relpath);
    const dir = this.dirs.get(parent);
    const node = dir?.children.get(name);
    if (!dir || !node) return [];
    dir.children.delete(name);
    const removed: FileNode[] = [];
    for (const n of walk(node)) {
      if (n.kind === 'file') {
        removed.push(n);
        this.files--;
      } else this.dirs.delete(n.relpath);
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
