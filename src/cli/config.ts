import { readFileSync } from 'node:fs';
import { ConfigError, parseConfigFile, type ConfigFile } from '../sources/repository-config.ts';

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
  return parseConfigFile(text, path, slash >= 0 ? path.slice(0, slash) || '/' : '.');
}
