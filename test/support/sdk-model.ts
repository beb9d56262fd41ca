/**
 * Reads the node SDK's generated TypeScript models (node_modules/@stream-io/node-sdk/.../models/index.d.ts)
 * and lists the required fields a response lacks: `missingRequired(body, 'GetApplicationResponse')`
 * walks nested models, arrays (`X[]`) and records (`Record<string, X>`) and returns the paths of
 * every required field that is absent (or null where the model does not allow null).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

interface Field {
  name: string;
  optional: boolean;
  type: string;
}

let models: Map<string, Field[]> | null = null;

function modelFile(): string {
  // The package's entry point is dist/index.cjs.js; the models sit beside it.
  const entry = createRequire(import.meta.url).resolve('@stream-io/node-sdk');
  return join(dirname(entry), 'src/gen/models/index.d.ts');
}

function load(): Map<string, Field[]> {
  if (models) return models;
  const text = readFileSync(modelFile(), 'utf8');
  const out = new Map<string, Field[]>();
  const re = /^export interface (\w+) \{\n([\s\S]*?)^\}/gm;
  for (const m of text.matchAll(re)) {
    const fields: Field[] = [];
    for (const line of m[2]!.split('\n')) {
      const f = /^ {4}(\w+)(\??): (.+);$/.exec(line);
      if (f) fields.push({ name: f[1]!, optional: f[2] === '?', type: f[3]!.trim() });
    }
    out.set(m[1]!, fields);
  }
  models = out;
  return out;
}

/** The required field names of an SDK model (throws when the model is unknown). */
export function requiredFields(model: string): string[] {
  const fields = load().get(model);
  if (!fields) throw new Error(`no model ${model} in the SDK`);
  return fields.filter((f) => !f.optional).map((f) => f.name);
}

function check(value: unknown, type: string, path: string, out: string[], depth: number): void {
  if (depth > 12) return;
  const alternatives = type.split('|').map((t) => t.trim());
  const nullable = alternatives.includes('null');
  const t = alternatives.filter((a) => a !== 'null' && a !== 'undefined').join(' | ');
  if (value === null || value === undefined) {
    if (!nullable) out.push(path);
    return;
  }
  const arr = /^(\w+)\[\]$/.exec(t) ?? /^Array<(\w+)>$/.exec(t);
  if (arr) {
    if (Array.isArray(value)) value.forEach((v, i) => check(v, arr[1]!, `${path}[${i}]`, out, depth + 1));
    return;
  }
  const rec = /^Record<string, (\w+)(\[\])?>$/.exec(t);
  if (rec) {
    if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>))
        check(v, rec[1]! + (rec[2] ?? ''), `${path}.${k}`, out, depth + 1);
    }
    return;
  }
  const fields = load().get(t);
  if (!fields || typeof value !== 'object') return;
  for (const f of fields) {
    const v = (value as Record<string, unknown>)[f.name];
    if (f.optional && (v === undefined || v === null)) continue;
    check(v, f.type, path ? `${path}.${f.name}` : f.name, out, depth + 1);
  }
}

/** Paths of the required fields `value` lacks against the SDK model `model`. */
export function missingRequired(value: unknown, model: string): string[] {
  if (!load().has(model)) throw new Error(`no model ${model} in the SDK`);
  const out: string[] = [];
  check(value, model, '', out, 0);
  return out;
}
