import { readFileSync } from 'node:fs';
import { ConfigError, parseConfigFile, type ConfigFile } from '../sources/repository-config.ts';
import { identityMatcher } from '../signatures/cosign.ts';
import { checkTrustedRoot } from '../signatures/sigstore-trust.ts';

// The file format and its parser are shared with ChartRepository objects (src/sources/repository-config.ts);
// this module only reads the file the user named.
export { ConfigError };
export type CliConfig = ConfigFile;
export const parseConfig = parseConfigFile;

export function loadConfig(path: string | undefined): CliConfig {
  if (!path) return { repositories: [], verify: true };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`${path}: cannot read the config file`);
  }
  const slash = path.lastIndexOf('/');
  const config = parseConfigFile(text, path, slash >= 0 ? path.slice(0, slash) || '/' : '.');
  // The signature code checks what the shared parser only reads: identity expressions compile, and a
  // trusted root file has Sigstore's shape.
  config.repositories.forEach((r, i) => {
    if (!r.keyless) return;
    try {
      identityMatcher(r.keyless.identities);
      if (r.keyless.trustedRootJson !== undefined) checkTrustedRoot(r.keyless.trustedRootJson);
    } catch (err) {
      throw new ConfigError(`${path}: repositories[${i}].keyless: ${(err as Error).message}`);
    }
  });
  return config;
}
