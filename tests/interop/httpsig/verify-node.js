#!/usr/bin/env node
// Verifies fixture messages with dhensby's `http-message-signatures` (pinned in
// package.json): by default ours.json (signed by edge-auth), one result per
// case and label. Offline once `npm ci` has run; CI does not run it.
//
//   cd tests/interop/httpsig && npm ci && node verify-node.js [file.json ...]
//
// The library reads the clock; it is set to each case's `now`. It checks no
// Content-Digest against the body, so the script does (RFC 9530), for
// messages whose signature covers content-digest.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { httpbis, createVerifier } = require('http-message-signatures');
const { parseDictionary, serializeDictionary } = require('structured-headers');

function toNode(pairs) {
  const out = {};
  for (const [n, v] of pairs) {
    const k = n.toLowerCase();
    if (k in out) out[k] = [].concat(out[k], v);
    else out[k] = v;
  }
  return out;
}

function verifierFor(k) {
  if (k.alg === 'hmac-sha256') return createVerifier(Buffer.from(k.secret_b64, 'base64'), k.alg);
  const key = crypto.createPublicKey({ key: k.jwk, format: 'jwk' });
  return createVerifier(key, k.alg);
}

function digestOk(headers, body) {
  const field = [].concat(headers['content-digest'] || []).join(', ');
  if (!field) return false;
  const dict = parseDictionary(field);
  let checked = 0;
  for (const [alg, [value]] of dict) {
    const h = { 'sha-256': 'sha256', 'sha-512': 'sha512' }[alg];
    if (!h) continue;
    const want = Buffer.from(value).toString('base64');
    if (crypto.createHash(h).update(body || '').digest('base64') !== want) return false;
    checked++;
  }
  return checked > 0;
}

async function verifyLabel(c, label) {
  const m = c.message;
  const headers = toNode(m.headers);
  // Only this label's Signature-Input member, so that the library (which
  // verifies every member it has a key for and returns the last result)
  // answers for this one signature.
  const inputs = parseDictionary([].concat(headers['signature-input']).join(', '));
  const only = new Map([[label, inputs.get(label)]]);
  headers['signature-input'] = serializeDictionary(only);
  const message = m.status ? { status: m.status, headers } : { method: m.method, url: m.uri, headers };
  const req = m.request ? { method: m.request.method, url: m.request.uri, headers: toNode(m.request.headers) } : undefined;
  const realNow = Date.now;
  Date.now = () => c.now * 1000;
  try {
    const ok = await httpbis.verifyMessage(
      {
        keyLookup: async (params) => {
          const k = c.keys[params.keyid];
          return k ? { id: params.keyid, algs: [k.alg], verify: verifierFor(k).verify ?? verifierFor(k) } : null;
        },
      },
      message,
      req,
    );
    if (!ok) return 'invalid';
    const covered = inputs.get(label)[0].map(([n]) => n);
    if (covered.includes('content-digest') && !digestOk(headers, m.body)) return 'digest mismatch';
    return 'valid';
  } catch (e) {
    return `error: ${e.message}`;
  } finally {
    Date.now = realNow;
  }
}

async function main() {
  const files = process.argv.slice(2);
  if (!files.length) files.push(path.join(__dirname, 'ours.json'));
  let bad = 0;
  for (const file of files) {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    console.log(`# ${path.basename(file)} (${doc.library}) verified by ${require('http-message-signatures/package.json').name}@${require('http-message-signatures/package.json').version}`);
    for (const c of doc.cases) {
      const inputs = parseDictionary([].concat(toNode(c.message.headers)['signature-input']).join(', '));
      const labels = c.verifier && c.verifier.label ? [c.verifier.label] : [...inputs.keys()];
      // As edge-auth decides: the configured label, else the first member
      // that verifies.
      const results = [];
      for (const label of labels) results.push(`[${label}] ${await verifyLabel(c, label)}`);
      const valid = results.some((r) => r.endsWith('] valid'));
      const agrees = valid === (c.expect === 'valid');
      if (!agrees) bad++;
      console.log(`${agrees ? 'ok  ' : 'DIFF'} ${c.name}: ${results.join(', ')} (edge-auth: ${c.expect})`);
    }
  }
  console.log(`${bad} disagreement(s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
