#!/usr/bin/env node
// Generates node.json: messages signed by dhensby's `http-message-signatures`
// (pinned in package.json) for tests/interop_httpsig.rs. Offline once
// `npm ci` has run; CI does not run it. Fresh keys on every run.
//
//   cd tests/interop/httpsig && npm ci && node generate-node.js
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { httpbis, createSigner } = require('http-message-signatures');

const LIB = `http-message-signatures@${require('http-message-signatures/package.json').version} (node ${process.version})`;
// Fixed clock: signatures are created 30 s before `now` and expire 300 s later.
const NOW = 1795428000;
const CREATED = NOW - 30;
const EXPIRES = CREATED + 300;

// ---------------------------------------------------------------- keys

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

const keys = {};
const signers = {};
function addAsym(keyid, alg, type, options) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync(type, options);
  keys[keyid] = { alg, jwk: publicKey.export({ format: 'jwk' }) };
  signers[keyid] = createSigner(privateKey, alg, keyid);
}
const hmacSecret = crypto.randomBytes(32);
keys['hmac-key'] = { alg: 'hmac-sha256', secret_b64: hmacSecret.toString('base64') };
signers['hmac-key'] = createSigner(hmacSecret, 'hmac-sha256', 'hmac-key');
// A different secret under the same keyid: the "wrong key" negative.
const otherSecret = crypto.randomBytes(32);
const wrongKey = { alg: 'hmac-sha256', secret_b64: otherSecret.toString('base64') };
addAsym('ed25519-key', 'ed25519', 'ed25519');
addAsym('p256-key', 'ecdsa-p256-sha256', 'ec', { namedCurve: 'P-256' });
addAsym('p384-key', 'ecdsa-p384-sha384', 'ec', { namedCurve: 'P-384' });
addAsym('rsa-pss-key', 'rsa-pss-sha512', 'rsa', { modulusLength: 2048 });
addAsym('rsa-v15-key', 'rsa-v1_5-sha256', 'rsa', { modulusLength: 2048 });

// ---------------------------------------------------------------- messages

function contentDigest(body, algs) {
  return algs
    .map((a) => `${a}=:${crypto.createHash(a.replace('-', '')).update(body).digest('base64')}:`)
    .join(', ');
}

// [[name, value], ...] -> the library's header object (repeated names as arrays).
function toNode(pairs) {
  const out = {};
  for (const [n, v] of pairs) {
    const k = n.toLowerCase();
    if (k in out) out[k] = [].concat(out[k], v);
    else out[k] = v;
  }
  return out;
}

// The library's header object -> pairs, keeping the original pairs' order
// and appending the signature fields it added.
function fromNode(original, headers) {
  const isSig = (n) => ['signature', 'signature-input'].includes(n.toLowerCase());
  const pairs = original.filter(([n]) => !isSig(n)).map(([n, v]) => [n, v]);
  for (const [n, v] of Object.entries(headers)) {
    const k = n.toLowerCase();
    if (k === 'signature' || k === 'signature-input') {
      pairs.push([k, v]);
    }
  }
  return pairs;
}

const BODY = '{"hello": "world"}';

function request(overrides = {}) {
  const body = overrides.body === undefined ? BODY : overrides.body;
  const headers = overrides.headers || [
    ['host', 'example.com'],
    ['date', 'Tue, 24 Nov 2026 08:39:30 GMT'],
    ['content-type', 'application/json'],
  ];
  const h = headers.slice();
  if (body !== null && overrides.digest !== false) {
    h.push(['content-digest', contentDigest(body, overrides.digestAlgs || ['sha-256'])]);
  }
  return {
    method: overrides.method || 'POST',
    uri: overrides.uri || 'https://example.com/foo?param=Value&Pet=dog',
    headers: h,
    ...(body !== null ? { body } : {}),
  };
}

async function sign(message, opts, req) {
  const params = opts.params || ['created', 'expires', 'keyid', 'alg'];
  const nodeMsg = message.status
    ? { status: message.status, headers: toNode(message.headers) }
    : { method: message.method, url: message.uri, headers: toNode(message.headers) };
  const nodeReq = req ? { method: req.method, url: req.uri, headers: toNode(req.headers) } : undefined;
  const signed = await httpbis.signMessage(
    {
      key: signers[opts.keyid],
      name: opts.label || 'sig1',
      fields: opts.fields,
      params,
      paramValues: {
        created: new Date(CREATED * 1000),
        expires: new Date(EXPIRES * 1000),
        ...(opts.paramValues || {}),
      },
    },
    nodeMsg,
    nodeReq,
  );
  return { ...message, headers: fromNode(message.headers, signed.headers) };
}

const cases = [];
function add(name, description, message, keyids, expect, extra = {}) {
  const ks = {};
  for (const k of keyids) ks[k] = keys[k];
  cases.push({ name, description, message, keys: extra.keys || ks, expect, now: extra.now || NOW, ...(extra.verifier ? { verifier: extra.verifier } : {}), ...(extra.note ? { note: extra.note } : {}) });
}

const STD = ['@method', '@authority', '@path', '@query', 'content-type', 'content-digest'];

async function main() {
  // One case per algorithm over the same components.
  for (const [keyid, alg] of [
    ['hmac-key', 'hmac-sha256'],
    ['ed25519-key', 'ed25519'],
    ['p256-key', 'ecdsa-p256-sha256'],
    ['p384-key', 'ecdsa-p384-sha384'],
    ['rsa-pss-key', 'rsa-pss-sha512'],
    ['rsa-v15-key', 'rsa-v1_5-sha256'],
  ]) {
    // This library signs RSA-PSS with the maximum salt length; RFC 9421
    // §3.3.1 fixes it at 64 bytes, so edge-auth refuses that signature.
    const maxSalt = alg === 'rsa-pss-sha512';
    add(
      `alg_${alg.replace(/[^a-z0-9]/g, '_')}`,
      `${alg} over method, authority, path, query, content-type, content-digest`,
      await sign(request(), { keyid, fields: STD }),
      [keyid],
      maxSalt ? 'BadSignature' : 'valid',
      maxSalt ? { note: 'Node signs RSA-PSS with the maximum salt length; RFC 9421 §3.3.1 fixes the salt at 64 bytes (the SHA-512 output), so edge-auth (ring RSA_PSS_2048_8192_SHA512) refuses it' } : {},
    );
  }

  const hm = { keyid: 'hmac-key' };
  const req = (o) => request(o);
  const q = (fields, o = {}, extra = {}, expect = 'valid') => [fields, o, extra, expect];
  const derived = {
    target_uri_port: q(['@target-uri', 'content-digest'], { uri: 'https://example.com:8443/a/b?x=1' }),
    target_uri_default_port: q(['@target-uri', 'content-digest'], { uri: 'https://example.com:443/a/b?x=1' }, {}, 'valid'),
    target_uri_uppercase_host: q(['@target-uri', '@authority', 'content-digest'], { uri: 'https://API.Example.com/a' }),
    authority_port: q(['@authority', 'content-digest'], { uri: 'http://example.com:8080/' }),
    authority_default_port_http: q(['@authority', 'content-digest'], { uri: 'http://example.com:80/p' }),
    authority_case: q(['@authority', 'content-digest'], { uri: 'https://EXAMPLE.com/p' }),
    scheme_http: q(['@scheme', 'content-digest'], { uri: 'http://example.com/p' }),
    request_target: q(['@request-target', 'content-digest'], { uri: 'https://example.com/a/b?x=1&y=2' }),
    path_percent_encoded: q(['@path', 'content-digest'], { uri: 'https://example.com/a%20b/%7Efoo/caf%C3%A9' }),
    path_empty: q(['@path', '@query'], { uri: 'https://example.com', method: 'GET', body: null }),
    query_plain: q(['@query', 'content-digest'], { uri: 'https://example.com/p?a=1&b=two%20words&c' }),
    query_empty_question_mark: q(['@query'], { uri: 'https://example.com/p?', method: 'GET', body: null }),
    query_absent: q(['@query'], { uri: 'https://example.com/p', method: 'GET', body: null }),
    query_param_plain: q(['"@query-param";name="Pet"', 'content-digest'], {}),
    query_param_plus_space: q(['"@query-param";name="q"', 'content-digest'], { uri: 'https://example.com/s?q=with+plus+space' }),
    query_param_encoded_name: q(['"@query-param";name="fa%C3%A7ade"', 'content-digest'], { uri: 'https://example.com/s?fa%C3%A7ade=yes' }),
    query_param_empty_value: q(['"@query-param";name="qux"', 'content-digest'], { uri: 'https://example.com/s?qux=&a=1' }),
    query_param_unreserved_marks: q(
      ['"@query-param";name="v"', 'content-digest'],
      { uri: "https://example.com/s?v=a~b!c'd(e)f" },
      { note: "RFC 9421 §2.2.8 re-encodes the value with the WHATWG application/x-www-form-urlencoded percent-encode set, which encodes ~ ! ' ( ) (a%7Eb%21c%27d%28e%29f); the Node library uses encodeURIComponent, which leaves them (a~b!c'd(e)f), so its base differs and the signature cannot verify. edge-auth follows the RFC." },
      'BadSignature',
    ),
    query_param_repeated: q(
      ['"@query-param";name="a"', 'content-digest'],
      { uri: 'https://example.com/s?a=1&a=2' },
      { note: 'RFC 9421 §2.2.8: a parameter name that occurs more than once MUST NOT be covered with @query-param; the Node library signs one line per value. edge-auth refuses the component.' },
      'MalformedComponent',
    ),
    method_lowercase_extension: q(
      ['@method', '@path'],
      { method: 'patch', uri: 'https://example.com/x', body: null },
      { note: 'RFC 9421 §2.2.1: the method is case-sensitive (RFC 9110 §9.1) and no transformation of its case is performed; the Node library upper-cases it (signs PATCH for the method `patch`). edge-auth signs and verifies the method as received.' },
      'BadSignature',
    ),
    method_get: q(['@method', '@path'], { method: 'GET', uri: 'https://example.com/x', body: null }),
  };
  for (const [name, [fields, o, extra, expect]] of Object.entries(derived)) {
    add(`derived_${name}`, `covers ${fields.join(' ')} of ${o.method || 'POST'} ${o.uri || 'default uri'}`, await sign(req(o), { ...hm, fields }), ['hmac-key'], expect, extra);
  }

  // Fields: multiple lines, whitespace, sf, key, bs.
  const base = [['host', 'example.com'], ['content-type', 'application/json']];
  const fieldCases = {
    multi_line: q(['x-list', 'content-digest'], { headers: [...base, ['x-list', 'a, b'], ['x-list', 'c']] }),
    surrounding_whitespace: q(['x-pad', 'content-digest'], { headers: [...base, ['x-pad', '   padded value \t ']] }),
    empty_value: q(['x-empty', 'content-digest'], { headers: [...base, ['x-empty', '']] }),
    sf_dictionary: q(['"example-dict";sf', 'content-digest'], { headers: [...base, ['example-dict', ' a=1,    b=2;x=1;y=2,   c=(a   b   c)']] }),
    sf_key_member: q(['"example-dict";key="b"', 'content-digest'], { headers: [...base, ['example-dict', 'a=1, b=2;x=1;y=2, c=(a b c)']] }),
    sf_key_inner_list: q(['"example-dict";key="c"', 'content-digest'], { headers: [...base, ['example-dict', 'a=1, b=2;x=1;y=2, c=(a   b    c);p']] }),
    sf_key_content_digest: q(['"content-digest";key="sha-256"', 'content-digest'], {}),
    // Date last: structured-headers 2.1.0 fails to parse an sf-date followed by another member.
    sf_dictionary_all_types: q(['"example-dict";sf', 'content-digest'], { headers: [...base, ['example-dict', 'a=?1, b=1.50, c="x\\"y",  d=:AQID:;p=tok, e=(1 2.5  "s" *t:x/y);q=-0, f=?0, h=%"caf%c3%a9"'], ['example-dict', 'g=@1659578233']] }),
    sf_decimal_integral: q(
      ['"example-item";sf', 'content-digest'],
      { headers: [...base, ['example-item', '2.0']] },
      { note: 'RFC 9651 §4.1.5 serialises the decimal 2.0 as `2.0`; structured-headers 2.1.0 (JavaScript numbers) writes `2`, an Integer, so the Node base differs. edge-auth follows the RFC.' },
      'BadSignature',
    ),
    sf_key_boolean_member: q(['"example-dict";key="a"', 'content-digest'], { headers: [...base, ['example-dict', 'a, b=2']] }),
    sf_key_member_with_params: q(['"example-dict";key="b"', 'content-digest'], { headers: [...base, ['example-dict', 'a, b=?1;x=1.50;y="z"']] }),
    sf_content_digest: q(['"content-digest";sf', 'content-digest'], { digestAlgs: ['sha-256', 'sha-512'] }),
    sf_list: q(['"example-list";sf', 'content-digest'], { headers: [...base, ['example-list', ' (a  b);p=1 ,  c'], ['example-list', '"d"']] }),
    sf_item: q(['"example-item";sf', 'content-digest'], { headers: [...base, ['example-item', '  1.250;a=?1  ']] }),
    bs_multi_line: q(['"example-header";bs', 'content-digest'], { headers: [...base, ['example-header', 'value, with, lots'], ['example-header', 'of, commas']] }),
    bs_non_ascii: q(['"x-name";bs', 'content-digest'], { headers: [...base, ['x-name', 'Zoë Café']] }),
  };
  for (const [name, [fields, o, extra, expect]] of Object.entries(fieldCases)) {
    add(`field_${name}`, `covers ${fields.join(' ')}`, await sign(req(o), { ...hm, fields }), ['hmac-key'], expect, extra);
  }

  // Parameters in several orders, with nonce and tag.
  const orders = {
    registry_order: ['created', 'expires', 'nonce', 'alg', 'keyid', 'tag'],
    reversed: ['tag', 'keyid', 'alg', 'nonce', 'expires', 'created'],
    keyid_first: ['keyid', 'nonce', 'created', 'tag'],
  };
  for (const [name, params] of Object.entries(orders)) {
    add(`params_${name}`, `parameters ${params.join(', ')}`, await sign(req(), { ...hm, fields: STD, params, paramValues: { nonce: 'n-0123456789', tag: 'app-x' } }), ['hmac-key'], 'valid');
  }
  add('params_no_alg_ed25519', 'ed25519 without the alg parameter (key decides)', await sign(req(), { keyid: 'ed25519-key', fields: STD, params: ['created', 'keyid'] }), ['ed25519-key'], 'valid');

  // Content-Digest.
  add('digest_sha512', 'Content-Digest sha-512', await sign(req({ digestAlgs: ['sha-512'] }), { ...hm, fields: STD }), ['hmac-key'], 'valid');
  add('digest_sha256_and_sha512', 'Content-Digest with sha-256 and sha-512', await sign(req({ digestAlgs: ['sha-256', 'sha-512'] }), { ...hm, fields: STD }), ['hmac-key'], 'valid');
  {
    const withUnknown = req({ digest: false });
    withUnknown.headers.push(['content-digest', `unixsum=:AAAA:, ${contentDigest(BODY, ['sha-256'])}`]);
    add('digest_unknown_algorithm_ignored', 'Content-Digest with an unknown algorithm before sha-256 (RFC 9530 §2: ignored)', await sign(withUnknown, { ...hm, fields: STD }), ['hmac-key'], 'valid');
    const onlyUnknown = req({ digest: false });
    onlyUnknown.headers.push(['content-digest', 'unixsum=:AAAA:']);
    add('digest_only_unknown_algorithm', 'Content-Digest with no algorithm edge-auth knows: the body cannot be checked', await sign(onlyUnknown, { ...hm, fields: STD }), ['hmac-key'], 'NoKnownDigest');
    const split = req({ digest: false });
    split.headers.push(['content-digest', contentDigest(BODY, ['sha-256'])], ['content-digest', contentDigest(BODY, ['sha-512'])]);
    add('digest_two_field_lines', 'Content-Digest members on two field lines (combined with ", ")', await sign(split, { ...hm, fields: STD }), ['hmac-key'], 'valid');
  }
  {
    const m = await sign(req(), { ...hm, fields: STD });
    add('digest_body_tampered', 'body changed after signing (digest covered and signed)', { ...m, body: '{"hello": "World"}' }, ['hmac-key'], 'DigestMismatch');
  }

  // Two signatures with different labels in one request.
  {
    const m1 = await sign(req(), { keyid: 'hmac-key', label: 'sig-a', fields: STD });
    const m2 = await sign(m1, { keyid: 'ed25519-key', label: 'sig-b', fields: ['@method', '@authority', '@path', 'content-digest', '"signature";key="sig-a"'] });
    add('two_labels_verify_a', 'two signatures (hmac sig-a, ed25519 sig-b over sig-a); verify sig-a by label', m2, ['hmac-key', 'ed25519-key'], 'valid', { verifier: { label: 'sig-a' } });
    add('two_labels_verify_b', 'two signatures; verify sig-b (covers signature;key="sig-a") by label', m2, ['hmac-key', 'ed25519-key'], 'valid', { verifier: { label: 'sig-b' } });
    // The same two signatures as separate field lines (combined with ", ").
    const own = (msg, n) => msg.headers.find(([k]) => k === n)[1];
    const split = {
      ...m2,
      headers: [
        ...m1.headers,
        ['signature-input', own(m2, 'signature-input').slice(own(m1, 'signature-input').length + 2)],
        ['signature', own(m2, 'signature').slice(own(m1, 'signature').length + 2)],
      ],
    };
    add('two_labels_separate_lines_verify_b', 'two signatures on separate Signature-Input / Signature lines; verify sig-b', split, ['hmac-key', 'ed25519-key'], 'valid', { verifier: { label: 'sig-b' } });
    add('two_labels_no_label', 'two signatures; no label configured: the first that verifies is accepted', m2, ['ed25519-key'], 'valid');
  }

  // Responses: @status and ;req.
  {
    const r = req({ uri: 'https://example.com/orders?id=7' });
    const resp = {
      status: 201,
      headers: [['content-type', 'application/json'], ['content-digest', contentDigest('{"ok":true}', ['sha-512'])]],
      body: '{"ok":true}',
      request: r,
    };
    add('response_status_req', 'response covering @status, content-*, and @method;req @authority;req @path;req "content-digest";req', await sign(resp, { ...hm, fields: ['@status', 'content-type', 'content-digest', '"@method";req', '"@authority";req', '"@path";req', '"@query-param";req;name="id"', '"content-digest";req'] }, r), ['hmac-key'], 'valid');
    const signedResp = await sign(resp, { ...hm, fields: ['@status', 'content-digest', '"@path";req'] }, r);
    add('response_status_tampered', 'status changed after signing', { ...signedResp, status: 200 }, ['hmac-key'], 'BadSignature');
    // RFC 9421 §2.4: a response bound to the request's own signature.
    const signedReq = await sign(r, { keyid: 'ed25519-key', fields: ['@method', '@authority', '@path', '@query', 'content-digest'] });
    const bound = { ...resp, request: signedReq };
    add('response_binds_request_signature', 'response covering @status, content-digest and "signature";req;key="sig1" of the signed request (RFC 9421 §2.4)', await sign(bound, { ...hm, fields: ['@status', 'content-digest', '"signature";req;key="sig1"', '"@authority";req', '"@method";req'] }, signedReq), ['hmac-key'], 'valid');
  }

  // Negatives.
  {
    const m = await sign(req(), { ...hm, fields: STD });
    add('neg_tampered_header', 'content-type changed after signing', { ...m, headers: m.headers.map(([n, v]) => (n === 'content-type' ? [n, 'text/plain'] : [n, v])) }, ['hmac-key'], 'BadSignature');
    add('neg_tampered_path', 'path changed after signing', { ...m, uri: 'https://example.com/bar?param=Value&Pet=dog' }, ['hmac-key'], 'BadSignature');
    add('neg_expired', 'verified 10 minutes after expires', m, ['hmac-key'], 'Expired', { now: EXPIRES + 600, verifier: { max_age: null } });
    add('neg_created_in_future', 'verified 10 minutes before created', m, ['hmac-key'], 'CreatedInFuture', { now: CREATED - 600 });
    add('neg_wrong_key', 'HMAC secret differs from the signer\'s', m, ['hmac-key'], 'BadSignature', { keys: { 'hmac-key': wrongKey } });
    const noKeyid = await sign(req(), { ...hm, fields: STD, params: ['created', 'alg'] });
    add('neg_no_keyid', 'no keyid parameter: edge-auth finds keys by keyid only', noKeyid, ['hmac-key'], 'MissingParameter');
    add('neg_unknown_keyid', 'key ring without the signer\'s keyid', m, ['ed25519-key'], 'UnknownKeyId');
    const e = await sign(req(), { keyid: 'ed25519-key', fields: STD, paramValues: { alg: 'hmac-sha256' } });
    add('neg_alg_mismatch', 'ed25519 signature labelled alg="hmac-sha256"', e, ['ed25519-key'], 'AlgorithmMismatch');
  }

  const out = { generator: 'generate-node.js', library: LIB, cases };
  fs.writeFileSync(path.join(__dirname, 'node.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${cases.length} cases to node.json`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
