#!/usr/bin/env node
// Compose Federation 2 subgraphs into a supergraph with @apollo/composition.
//
// Usage: node compose.mjs <subgraphs.json>
//   subgraphs.json: [{"name": "...", "url": "...", "sdl": "..."}, ...]
//
// stdout (always a single JSON document):
//   success -> {"ok": true, "supergraphSdl": "...", "hints": [...]} (exit 0)
//              (hints: composition hints as strings, usually empty)
//   failure -> {"ok": false, "errors": ["message", ...]}        (exit 1)
import { readFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

function fail(errors) {
  process.stdout.write(JSON.stringify({ ok: false, errors }) + '\n');
  process.exitCode = 1;
}

function main() {
  const file = process.argv[2];
  if (!file) {
    return fail(['usage: node compose.mjs <subgraphs.json>']);
  }

  let subgraphs;
  try {
    subgraphs = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return fail([`cannot read subgraph list ${file}: ${e.message}`]);
  }
  if (!Array.isArray(subgraphs) || subgraphs.length === 0) {
    return fail(['subgraph list must be a non-empty JSON array']);
  }

  const services = [];
  const parseErrors = [];
  for (const [i, sg] of subgraphs.entries()) {
    const name = sg && sg.name;
    if (!name || typeof sg.sdl !== 'string') {
      parseErrors.push(`subgraph #${i}: "name" and "sdl" (string) are required`);
      continue;
    }
    try {
      services.push({ name, url: sg.url, typeDefs: parse(sg.sdl) });
    } catch (e) {
      parseErrors.push(`[${name}] SDL parse error: ${e.message}`);
    }
  }
  if (parseErrors.length) {
    return fail(parseErrors);
  }

  const result = composeServices(services);
  if (result.errors && result.errors.length) {
    return fail(result.errors.map((e) => e.message));
  }
  process.stdout.write(
    JSON.stringify({
      ok: true,
      supergraphSdl: result.supergraphSdl,
      hints: (result.hints || []).map((h) => h.toString()),
    }) + '\n',
  );
  process.exitCode = 0;
}

try {
  main();
} catch (e) {
  fail([`unexpected error: ${e && e.stack ? e.stack : String(e)}`]);
}
