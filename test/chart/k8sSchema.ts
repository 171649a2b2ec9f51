import { createRequire } from 'node:module';
import * as k8s from '@kubernetes/client-node';
import type { K8sObject } from './helm.js';

/**
 * Validates rendered objects against Kubernetes' OpenAPI, without a cluster, in two layers:
 *
 * 1. kubernetes-models: validators compiled by ajv from Kubernetes' OpenAPI definitions (and the
 *    prometheus-operator CRDs for ServiceMonitor): required fields, types, formats, enums.
 * 2. Unknown fields: those validators, like the OpenAPI, allow extra keys, so a misspelt field
 *    (`mountPropogation`) would pass and the API server would drop it. Every key is checked
 *    against the model of @kubernetes/client-node, generated from Kubernetes' OpenAPI (v1.34),
 *    the way `kubectl apply --validate=strict` rejects unknown fields.
 */
const require = createRequire(import.meta.url);

interface Model {
  new (data: unknown): { validate(): void };
}

function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion === 'monitoring.coreos.com/v1') return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

export function schemaErrors(obj: K8sObject): string[] {
  const where = `${obj.kind}/${obj.metadata?.name}`;
  let Ctor: Model;
  try {
    const mod = require(modelModule(obj.apiVersion, obj.kind)) as Record<string, Model>;
    Ctor = mod[obj.kind]!;
    if (!Ctor) throw new Error('no model');
  } catch {
    return [`${where}: no OpenAPI schema for ${obj.apiVersion} ${obj.kind}`];
  }
  const errors: string[] = [];
  try {
    new Ctor(obj).validate();
  } catch (e) {
    errors.push(`${where}: ${(e as Error).message}`);
  }
  const className = clientModelName(obj.apiVersion, obj.kind);
  if (className) errors.push(...unknownFields(obj, className, '').map((e) => `${where}: ${e}`));
  return errors;
}

/** V1Deployment for apps/v1 Deployment; undefined for kinds client-node has no model of (CRDs). */
function clientModelName(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split('/').pop()!;
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  return typeof (k8s as Record<string, unknown>)[name] === 'function' ? name : undefined;
}

interface Attribute {
  baseName: string;
  type: string;
}

const LEAF_TYPES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

function attributes(className: string): Attribute[] | undefined {
  const cls = (k8s as Record<string, unknown>)[className] as { getAttributeTypeMap?: () => Attribute[] } | undefined;
  return cls?.getAttributeTypeMap?.();
}

function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined || LEAF_TYPES.has(type)) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return typeof value === 'object' ? Object.entries(value as object).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`)) : [];
  const attrs = attributes(type);
  if (!attrs || typeof value !== 'object' || Array.isArray(value)) return [];
  const known = new Map(attrs.map((a) => [a.baseName, a.type]));
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as object)) {
    const t = known.get(k);
    if (t === undefined) out.push(`${path ? path.slice(1) : '(root)'}: unknown field "${k}" (${type} has ${[...known.keys()].join(', ')})`);
    else out.push(...unknownFields(v, t, `${path}.${k}`));
  }
  return out;
}
