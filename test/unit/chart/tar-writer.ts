/** A minimal ustar writer for building hostile archives byte by byte (tests only). */
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  data?: string | Uint8Array;
  /** '0' file, '1' hard link, '2' symlink, '3' char device, '5' dir, 'x' pax header, 'L' GNU long name. */
  type?: string;
  linkname?: string;
  /** Overrides the size field (to lie about it). */
  size?: number;
}

function field(buf: Buffer, off: number, len: number, value: string): void {
  buf.write(value, off, Math.min(len, Buffer.byteLength(value)), 'utf8');
}

function octal(n: number, len: number): string {
  return `${n.toString(8).padStart(len - 1, '0')}\0`;
}

export function tarHeader(e: TarEntry, dataLength: number): Buffer {
  const h = Buffer.alloc(512);
  field(h, 0, 100, e.name);
  field(h, 100, 8, octal(0o644, 8));
  field(h, 108, 8, octal(0, 8));
  field(h, 116, 8, octal(0, 8));
  field(h, 124, 12, octal(e.size ?? dataLength, 12));
  field(h, 136, 12, octal(0, 12));
  h.fill(0x20, 148, 156);
  field(h, 156, 1, e.type ?? '0');
  if (e.linkname) field(h, 157, 100, e.linkname);
  field(h, 257, 6, 'ustar\0');
  field(h, 263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

export function tarBytes(entries: TarEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : Buffer.from(e.data ?? new Uint8Array());
    parts.push(tarHeader(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function tgz(entries: TarEntry[], options: { end?: boolean } = {}): Buffer {
  return gzipSync(tarBytes(entries, options));
}

export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (`${len}${body}`.length !== len) len = `${len}${body}`.length;
  return `${len}${body}`;
}

export const MINIMAL_CHART: TarEntry[] = [
  { name: 'demo/Chart.yaml', data: 'apiVersion: v2\nname: demo\nversion: 0.1.0\n' },
  { name: 'demo/values.yaml', data: 'a: 1\n' },
  { name: 'demo/templates/cm.yaml', data: 'kind: ConfigMap\n' },
];
