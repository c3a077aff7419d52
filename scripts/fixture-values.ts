/**
 * Shared by the fixture capture scripts: captured releases go into the repository, so every string leaf of
 * the values a user supplied (`config`) must be one of the scripts' own dummies (`fixture-dummy-…`).
 */
import { isObject } from '../src/util/guards.ts';

export function checkConfig(v: unknown, where: string): void {
  if (typeof v === 'string') {
    if (!v.startsWith('fixture-dummy')) throw new Error(`${where}: unexpected value in release config`);
  } else if (Array.isArray(v)) v.forEach((x, i) => checkConfig(x, `${where}[${i}]`));
  else if (isObject(v)) for (const [k, x] of Object.entries(v)) checkConfig(x, `${where}.${k}`);
}
