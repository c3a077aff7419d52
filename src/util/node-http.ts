import { createRequire } from 'node:module';
import type * as Http from 'node:http';
import type * as Https from 'node:https';

// `import ... from 'node:http'` makes Node build an ES module facade that reads every export, among them
// the lazy WebSocket and EventSource getters, which load Node's bundled undici: +20 ms of start-up and
// +13 MiB resident in a process that never uses them. require() reads only what is used.
const require = createRequire(import.meta.url);

export const http = require('node:http') as typeof Http;
export const https = require('node:https') as typeof Https;
