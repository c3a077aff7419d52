import { readFileSync } from 'node:fs';
import { ConfigError, parseConfigFile, type ConfigFile } from '../sources/repository-config.ts';
import { identityMatcher } from '../signatures/cosign.ts';
import { checkTrustedRoot } from '../signatures/sigstore-trust.ts';

// The file format and its parser are shared with ChartRepository objects (src/sources/repository-config.ts);
// this module only reads the file the user named.
export { ConfigError };
export type CliConfig = ConfigFile;

/**
 * The `--config` file: the shared parser, then what only the signature code can check (identity expressions
 * compile; a trusted root file has Sigstore's shape).
 */
export function parseConfig(text: string, file: string, baseDir = '.', env: NodeJS.ProcessEnv = process.env): CliConfig {
  const config = parseConfigFile(text, file, baseDir, env);
  config.repositories.forEach((r, i) => {
    if (!r.keyless) return;
    const where = `${file}: repositories[${i}].keyless`;
    try {
      identityMatcher(r.keyless.identities);
    } catch (err) {
      throw new ConfigError(`${where}: ${(err as Error).message}`);
    }
    try {
      if (r.keyless.trustedRootJson !== undefined) checkTrustedRoot(r.keyless.trustedRootJson);
    } catch (err) {
      throw new ConfigError(`${where}.trustedRoot: ${(err as Error).message}`);
    }
  });
  return config;
}

export function loadConfig(path: string | undefined): CliConfig {
  if (!path) return { repositories: [], verify: true };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`${path}: cannot read the config file`);
  }
  const slash = path.lastIndexOf('/');
  return parseConfig(text, path, slash >= 0 ? path.slice(0, slash) || '/' : '.');
}
