#!/usr/bin/env node
// Run one GraphQL operation through Apollo Gateway in front of a single
// Federation 2 subgraph, without opening a port.
//
// Environment:
//   SUBGRAPH_URL       (required) e.g. http://127.0.0.1:8123/graphql
//   SUBGRAPH_TOKEN     bearer token; every request to the subgraph (including
//                      the `_service { sdl }` fetch done by IntrospectAndCompose)
//                      carries `Authorization: Bearer <token>`. If unset or
//                      empty, no Authorization header is sent.
//   GATEWAY_QUERY      (required) the GraphQL operation to run
//   GATEWAY_VARIABLES  optional JSON object of variables
//   SUBGRAPH_NAME      optional subgraph name (default: cari)
//   GATEWAY_TIMEOUT_MS optional overall safety timeout (default: 60000)
//
// Output:
//   exit 0 -> stdout: {"data": ..., "errors": ...} of the single result
//             ("data"/"errors" are always present, null when absent;
//             "extensions" is added only when the result has some)
//   exit 1 -> stderr: error message (bad input, subgraph unreachable,
//             SDL fetch rejected, composition failure, timeout, ...)
//
// All logging goes to stderr so stdout holds only the JSON result.

// Keep the harness hermetic: no Apollo telemetry / usage reporting / uplink.
// (The gateway otherwise starts an anonymous OTLP metrics exporter whose cloud
// resource detectors probe metadata endpoints.) Must be set before the
// ApolloGateway constructor runs.
process.env.APOLLO_TELEMETRY_DISABLED = 'true';
for (const k of ['APOLLO_KEY', 'APOLLO_GRAPH_REF', 'APOLLO_GRAPH_ID', 'APOLLO_GRAPH_VARIANT']) {
  delete process.env[k];
}

import { ApolloServer } from '@apollo/server';
import {
  ApolloGateway,
  IntrospectAndCompose,
  RemoteGraphQLDataSource,
} from '@apollo/gateway';

const fmt = (args) =>
  args.map((a) => (a instanceof Error ? a.stack || a.message : String(a))).join(' ');

// Logger writing to stderr only (default loggers use console.log => stdout).
const logger = {
  debug: () => {},
  info: () => {},
  warn: (...args) => process.stderr.write(`[gateway warn] ${fmt(args)}\n`),
  error: (...args) => process.stderr.write(`[gateway error] ${fmt(args)}\n`),
};

function die(message, code = 1) {
  process.stderr.write(`gateway.mjs: ${message}\n`);
  // Force termination: keep-alive sockets of the subgraph fetcher would
  // otherwise keep the event loop alive for a while.
  process.exit(code);
}

const timeoutMs = Number(process.env.GATEWAY_TIMEOUT_MS || 60000);
const safety = setTimeout(
  () => die(`timed out after ${timeoutMs} ms`),
  Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 60000,
);
safety.unref();

const subgraphUrl = process.env.SUBGRAPH_URL;
const subgraphName = process.env.SUBGRAPH_NAME || 'cari';
const token = process.env.SUBGRAPH_TOKEN || '';
const query = process.env.GATEWAY_QUERY;

if (!subgraphUrl) die('SUBGRAPH_URL is required');
if (!query) die('GATEWAY_QUERY is required');

let variables;
if (process.env.GATEWAY_VARIABLES) {
  try {
    variables = JSON.parse(process.env.GATEWAY_VARIABLES);
  } catch (e) {
    die(`GATEWAY_VARIABLES is not valid JSON: ${e.message}`);
  }
  if (variables === null || typeof variables !== 'object' || Array.isArray(variables)) {
    die('GATEWAY_VARIABLES must be a JSON object');
  }
}

class AuthenticatedDataSource extends RemoteGraphQLDataSource {
  // Called for every subgraph request, including the LOADING_SCHEMA
  // (`_service { sdl }`) request issued by IntrospectAndCompose.
  willSendRequest({ request }) {
    if (token) {
      request.http.headers.set('Authorization', `Bearer ${token}`);
    }
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [{ name: subgraphName, url: subgraphUrl }],
  }),
  buildService: ({ url }) => new AuthenticatedDataSource({ url }),
  logger,
});

const server = new ApolloServer({
  gateway,
  logger,
  introspection: true,
  includeStacktraceInErrorResponses: false,
});

async function main() {
  try {
    await server.start();
  } catch (e) {
    // server.start() loads the gateway: SDL fetch + composition happen here.
    await gateway.stop().catch(() => {});
    die(`failed to load gateway: ${e && e.message ? e.message : e}`);
  }

  let out;
  try {
    const response = await server.executeOperation({ query, variables });
    if (response.body.kind !== 'single') {
      throw new Error(`unexpected response kind: ${response.body.kind}`);
    }
    const r = response.body.singleResult;
    out = { data: r.data ?? null, errors: r.errors ?? null };
    if (r.extensions) out.extensions = r.extensions;
  } catch (e) {
    await server.stop().catch(() => {});
    die(`failed to execute operation: ${e && e.stack ? e.stack : e}`);
  }

  try {
    await server.stop(); // also stops the gateway
  } catch (e) {
    process.stderr.write(`gateway.mjs: warning: error while stopping: ${e.message}\n`);
  }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

main().catch((e) => die(`unexpected error: ${e && e.stack ? e.stack : e}`));
