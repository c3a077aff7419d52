/**
 * The files of a published chart that began with a UTF-8 byte order mark, which the archive reader trims
 * as Helm's loader has done since 3.3 (helm/helm 27ebfa8c5). Helm 3.0-3.2 stored them with it, so the
 * fingerprint also keeps their digest with the mark (ChartFingerprint.withBom). A WeakSet of the trimmed
 * byte arrays: nothing is kept once the files are gone.
 */
export const BOM_TRIMMED = new WeakSet<Uint8Array>();

export const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/** The bytes with the mark put back. */
export function withBom(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.byteLength + 3);
  out.set(UTF8_BOM, 0);
  out.set(data, 3);
  return out;
}
