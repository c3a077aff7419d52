import type { CleartextMessage, Key } from 'openpgp';
import { parse as parseYaml } from 'yaml';
import { formatTime } from '../util/time.ts';

/**
 * Helm provenance (.prov) verification, as `helm verify` does it: the OpenPGP clear-signature must be
 * good for a key of the repository's keyring AND the `files:` entry for the chart must equal the sha256
 * of the tarball the repository served. Pure apart from openpgp's (async) crypto.
 */

export type SignatureReason =
  /** Good signature by a keyring key, digest equal. */
  | 'Verified'
  /** The repository serves no .prov for this chart. */
  | 'Unsigned'
  /** Signed, but by none of the keyring's keys (or no keyring is configured). */
  | 'UnknownKey'
  /** The signature does not verify (the signed text or the signature was altered). */
  | 'BadSignature'
  /** The signature is good but the signed digest is not the tarball's: the tarball was replaced. */
  | 'DigestMismatch'
  /** Not an OpenPGP clear-signed Helm provenance file. */
  | 'Malformed';

export interface SignatureResult {
  type: 'helm-prov';
  verified: boolean;
  reason: SignatureReason;
  /** 16 hex digits of the signing key (sub)key, when the file could be read. */
  keyID?: string | undefined;
  /** First user ID of the keyring key that matched (e.g. "Name <mail>"): public information. */
  signer?: string | undefined;
  message: string;
}

// Loaded on first use: a controller without keyrings never pays openpgp's ~16 MiB of resident memory.
let library: Promise<typeof import('openpgp')> | undefined;
const pgp = (): Promise<typeof import('openpgp')> => (library ??= import('openpgp'));

/** Keys are parsed once per keyring text: a reconcile of thousands of releases must not re-parse them. */
const keyringCache = new Map<string, Promise<Key[]>>();

async function readKeyring(armored: readonly string[]): Promise<Key[]> {
  const cacheKey = armored.join('\n');
  let keys = keyringCache.get(cacheKey);
  if (!keys) {
    keys = (async () => {
      const openpgp = await pgp();
      const out: Key[] = [];
      for (const text of armored) {
        // A Secret may hold several armored blocks or a binary export; an unreadable entry must not
        // hide the good ones.
        try {
          out.push(...(await openpgp.readKeys({ armoredKeys: text })));
        } catch {
          try {
            out.push(...(await openpgp.readKeys({ binaryKeys: Buffer.from(text, 'latin1') })));
          } catch {
            // not a key
          }
        }
      }
      return out;
    })();
    if (keyringCache.size > 64) keyringCache.clear();
    keyringCache.set(cacheKey, keys);
  }
  return keys;
}

/** Parses an armored keyring text; throws a message naming the problem when it holds no usable key. */
export async function checkKeyring(armored: readonly string[]): Promise<number> {
  const keys = await readKeyring(armored);
  if (keys.length === 0) throw new Error('the keyring holds no OpenPGP public key');
  return keys.length;
}

/** The `files:` map of the signed text (after Helm's `...` separator). */
export function signedFiles(signedText: string): Map<string, string> {
  const sep = signedText.search(/^\.\.\.\s*$/m);
  const tail = sep >= 0 ? signedText.slice(sep).replace(/^\.\.\.\s*$/m, '') : signedText;
  const doc: unknown = parseYaml(tail, { maxAliasCount: 0 });
  const files = new Map<string, string>();
  if (typeof doc === 'object' && doc !== null && 'files' in doc) {
    const f = (doc as { files: unknown }).files;
    if (typeof f === 'object' && f !== null) {
      for (const [k, v] of Object.entries(f)) if (typeof v === 'string') files.set(k, v);
    }
  }
  return files;
}

const result = (reason: SignatureReason, message: string, extra: Partial<SignatureResult> = {}): SignatureResult => ({
  type: 'helm-prov',
  verified: reason === 'Verified',
  reason,
  message,
  ...extra,
});

export interface VerifyInput {
  /** The .prov bytes, or undefined when the repository serves none. */
  provenance: Buffer | undefined;
  /** `sha256:<hex>` of the tarball the repository served. */
  tarballDigest: string;
  /** `<name>-<version>.tgz`, the key Helm writes under `files:`. */
  fileName: string;
  /** Armored (or binary) public keys of the repository's keyring; empty: none configured. */
  keyring: readonly string[];
}

export async function verifyProvenance(input: VerifyInput): Promise<SignatureResult> {
  if (!input.provenance) return result('Unsigned', 'the repository serves no provenance (.prov) for this chart');
  if (input.provenance.length > 1024 * 1024) return result('Malformed', 'the provenance file is larger than 1 MiB');
  const openpgp = await pgp();
  let message: CleartextMessage;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: input.provenance.toString('utf8') });
  } catch (err) {
    return result('Malformed', `the provenance file is not an OpenPGP clear-signed message (${(err as Error).message.slice(0, 120)})`);
  }
  const ids = message.getSigningKeyIDs();
  const keys = await readKeyring(input.keyring);
  const signingKey = keys.find((k) => ids.some((id) => k.getKeys(id).length > 0));
  if (!signingKey) {
    const firstID = ids[0]?.toHex();
    return result('UnknownKey', input.keyring.length ? `signed by key ${firstID ?? '?'}, which is not in the repository keyring` : `signed by key ${firstID ?? '?'}; no keyring is configured for the repository`, { keyID: firstID });
  }
  // A file may carry several signatures; the one that counts is the keyring key's, not merely the first.
  const matchedID = ids.find((id) => signingKey.getKeys(id).length > 0);
  const keyID = matchedID?.toHex();
  const signer = signingKey.getUserIDs()[0];
  try {
    const verification = await openpgp.verify({ message, verificationKeys: [signingKey], expectSigned: false });
    const sig = verification.signatures.find((s) => matchedID !== undefined && s.keyID.equals(matchedID));
    if (!sig) return result('Malformed', 'the provenance file holds no signature', { keyID, signer });
    await sig.verified;
  } catch (err) {
    return result('BadSignature', `the signature by key ${keyID ?? '?'} does not verify (${(err as Error).message.slice(0, 120)})`, { keyID, signer });
  }
  let files: Map<string, string>;
  try {
    files = signedFiles(message.getText());
  } catch {
    return result('Malformed', 'the signed text of the provenance file is not Helm provenance YAML', { keyID, signer });
  }
  const signed = files.get(input.fileName);
  if (!signed) return result('DigestMismatch', `the provenance file signs no digest for ${input.fileName}`, { keyID, signer });
  if (signed !== input.tarballDigest) {
    return result('DigestMismatch', `the signed digest of ${input.fileName} is ${signed}, the repository served ${input.tarballDigest}`, { keyID, signer });
  }
  // As GnuPG and helm 3 do, a signature made while the key was valid stays good after the key expires;
  // helm 4's `verify` refuses it. Said in the message so that the difference is visible.
  const expires = await signingKey.getExpirationTime().catch(() => null);
  const expired = expires instanceof Date && expires.getTime() <= Date.now() ? `; the key expired at ${formatTime(expires)}, after signing` : '';
  return result('Verified', `signed by ${keyID ?? '?'}${signer ? ` (${signer})` : ''}; digest matches${expired}`, { keyID, signer });
}
