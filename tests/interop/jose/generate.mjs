// Writes jose-node.json: JWTs and JWKS minted by panva/jose (the version
// pinned in package.json) on Node's WebCrypto, for tests/interop_jose.rs.
//
//   cd tests/interop/jose && npm ci && node generate.mjs
//
// Keys are generated fresh on every run, so the fixture changes wholesale;
// the case names and expectations do not. Times are fixed (iat 1795428000)
// and every case carries the `now` to validate at. Each case also records
// what jose's own jwtVerify says (`peer`), so a disagreement is visible in
// the fixture itself; `expect` is edge-auth's answer by the RFCs.

import * as jose from 'jose';
import { createHmac, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const IAT = 1795428000;
const NOW = IAT + 600;
const EXP = IAT + 3600;
const ISS = 'https://jose-node.example';
const AUD = 'api://edge';
const LEEWAY = 60;

const enc = new TextEncoder();
const b64u = (bytes) => jose.base64url.encode(bytes);
const claims = (extra = {}) => ({ iss: ISS, aud: AUD, sub: 'alice', iat: IAT, exp: EXP, ...extra });

const cases = [];

/** What jose's jwtVerify says about a case (the same policy as ours). */
async function peerVerdict(c) {
  const v = c.validation;
  try {
    // jose keeps shared secrets out of JWKS; hand it the oct key itself.
    const oct = c.jwks.keys.every((k) => k.kty === 'oct');
    const jwks = oct
      ? await jose.importJWK(c.jwks.keys[0], jose.decodeProtectedHeader(c.token).alg)
      : jose.createLocalJWKSet(c.jwks);
    await jose.jwtVerify(c.token, jwks, {
      issuer: v.issuers.length ? v.issuers : undefined,
      audience: v.audiences.length ? v.audiences : undefined,
      algorithms: v.algorithms,
      typ: v.typ,
      currentDate: new Date(c.now * 1000),
      clockTolerance: LEEWAY,
      requiredClaims: ['exp'],
    });
    return 'valid';
  } catch (e) {
    return e.code ?? e.name ?? String(e);
  }
}

/**
 * Records a case. `validation` overrides the defaults (our issuer and
 * audience, the token's own alg only); `extra` adds `part` (for Malformed)
 * and `note` (why, with the RFC section, when it is not obvious).
 */
function add(name, jwks, token, expect, validation = {}, extra = {}) {
  cases.push({
    name,
    jwks,
    token,
    now: NOW,
    validation: {
      issuers: [ISS],
      audiences: [AUD],
      algorithms: validation.algorithms ?? [algOf(token)],
      ...validation,
    },
    expect,
    ...extra,
  });
}

function algOf(token) {
  try {
    return jose.decodeProtectedHeader(token).alg ?? 'RS256';
  } catch {
    return 'RS256';
  }
}

/** A fresh key pair for `alg`, its public JWK as jose exports it. */
async function keyPair(alg, options = {}) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true, ...options });
  const jwk = await jose.exportJWK(publicKey);
  return { publicKey, privateKey, jwk };
}

async function sign(alg, privateKey, header = {}, payload = claims()) {
  return new jose.SignJWT(payload).setProtectedHeader({ alg, ...header }).sign(privateKey);
}

/** Flips one character in the middle of a segment, keeping it base64url. */
function tamper(token, segment) {
  const parts = token.split('.');
  const s = parts[segment];
  const i = Math.floor(s.length / 2);
  const c = s[i] === 'A' ? 'B' : 'A';
  parts[segment] = s.slice(0, i) + c + s.slice(i + 1);
  return parts.join('.');
}

// --- every algorithm, every key size --------------------------------------

const rsaSizes = { RS256: [2048, 3072, 4096], RS384: [3072], RS512: [4096], PS256: [2048, 3072, 4096], PS384: [3072], PS512: [4096] };
const keys = {};
for (const [alg, sizes] of Object.entries(rsaSizes)) {
  for (const bits of sizes) {
    const k = await keyPair(alg, { modulusLength: bits });
    k.jwk.kid = `${alg.toLowerCase()}-${bits}`;
    keys[`${alg}-${bits}`] = k;
    const token = await sign(alg, k.privateKey, { kid: k.jwk.kid, typ: 'JWT' });
    add(`${alg.toLowerCase()}_rsa${bits}`, { keys: [k.jwk] }, token, 'valid');
  }
}
for (const [alg, crv] of [['ES256', 'P-256'], ['ES384', 'P-384']]) {
  const k = await keyPair(alg);
  k.jwk.kid = `${alg.toLowerCase()}`;
  keys[alg] = k;
  add(`${alg.toLowerCase()}_${crv.replace("-", "").toLowerCase()}`, { keys: [k.jwk] },
    await sign(alg, k.privateKey, { kid: k.jwk.kid, typ: 'JWT' }), 'valid');
}
{
  const k = await keyPair('EdDSA');
  k.jwk.kid = 'ed25519';
  keys.EdDSA = k;
  add('eddsa_ed25519', { keys: [k.jwk] }, await sign('EdDSA', k.privateKey, { kid: 'ed25519' }), 'valid');
  // RFC 9864 §2.2 (fully-specified algorithms) registers `Ed25519` as the
  // JWS `alg` for EdDSA on Ed25519 and deprecates the polymorphic `EdDSA`;
  // jose signs with either. edge-auth's EdDSA is Ed25519 only, so the name
  // is an alias, admitted when EdDSA is allowed.
  add('ed25519_fully_specified_alg', { keys: [k.jwk] },
    await sign('Ed25519', k.privateKey, { kid: 'ed25519' }), 'valid',
    { algorithms: ['EdDSA'] },
    { note: 'RFC 9864 §2.2: `Ed25519` is EdDSA on Ed25519, the only EdDSA edge-auth verifies; jose allow-lists the two names separately' });
  // WebCrypto itself (Node 20) exports an Ed25519 public key with
  // `alg: Ed25519` (jose's exportJWK strips it). Before edge-auth read that
  // name the key was skipped and EdDSA tokens found no key.
  const raw = await webcrypto.subtle.exportKey('jwk', k.publicKey);
  raw.kid = 'webcrypto-ed25519';
  if (raw.alg !== 'Ed25519') throw new Error(`WebCrypto exported alg ${raw.alg}`);
  add('webcrypto_export_ed25519_alg', { keys: [raw] },
    await sign('EdDSA', k.privateKey, { kid: raw.kid }), 'valid', { algorithms: ['EdDSA'] },
    { note: 'key alg `Ed25519` (RFC 9864) fits an `EdDSA` token on the same Ed25519 key: one algorithm, two names (jose matches the names exactly and finds no key)' });
  add('webcrypto_export_ed25519_alg_ed25519_token', { keys: [raw] },
    await sign('Ed25519', k.privateKey, { kid: raw.kid }), 'valid', { algorithms: ['EdDSA'] });
  add('ed25519_alg_not_allowed', { keys: [raw] },
    await sign('Ed25519', k.privateKey, { kid: raw.kid }), 'AlgorithmNotAllowed', { algorithms: ['ES256'] });
}
{
  // ES512 (P-521) is not implemented: unsupported, whatever the allow-list.
  const k = await keyPair('ES512');
  k.jwk.kid = 'p521';
  add('es512_unsupported', { keys: [k.jwk] }, await sign('ES512', k.privateKey, { kid: 'p521' }), 'UnsupportedAlgorithm',
    { algorithms: ['ES256', 'ES384'] });
  keys.ES512 = k;
}
for (const [alg, len] of [['HS256', 32], ['HS384', 48], ['HS512', 64]]) {
  const secret = await jose.generateSecret(alg, { extractable: true });
  const jwk = await jose.exportJWK(secret);
  jwk.kid = alg.toLowerCase();
  if (Buffer.from(jwk.k, 'base64url').length !== len) throw new Error(`${alg} secret length`);
  const token = await sign(alg, secret, { kid: jwk.kid, typ: 'JWT' });
  add(`${alg.toLowerCase()}_oct_opt_in`, { keys: [jwk] }, token, 'valid', { allow_symmetric: true });
  if (alg === 'HS256') {
    // Without the opt-in the oct key is not loaded (RFC 8725 §3.2: keep
    // symmetric and asymmetric key use apart; ours is off by default).
    add('hs256_oct_without_opt_in', { keys: [jwk] }, token, 'UnknownKey', {},
      { note: 'edge-auth option: oct keys load only with allow_symmetric (jose is handed the secret directly)' });
    // HS256 is not in the default allow-list even with the key loaded.
    add('hs256_not_in_allow_list', { keys: [jwk] }, token, 'AlgorithmNotAllowed',
      { algorithms: ['RS256', 'ES256', 'EdDSA'], allow_symmetric: true });
  }
}

const rs = keys['RS256-2048'];
const es = keys.ES256;

// --- JWK shapes -----------------------------------------------------------

{
  // kid = RFC 7638 thumbprint, as jose computes it.
  const jwk = { ...keys['PS256-2048'].jwk };
  jwk.kid = await jose.calculateJwkThumbprint(jwk, 'sha256');
  add('kid_rfc7638_thumbprint', { keys: [jwk] },
    await sign('PS256', keys['PS256-2048'].privateKey, { kid: jwk.kid }), 'valid');
}
{
  // No kid in the token, one key in the set (without a kid either).
  const { kid, ...jwk } = es.jwk;
  add('kid_absent_one_key', { keys: [jwk] }, await sign('ES256', es.privateKey), 'valid');
  // No kid, the set holds one key per algorithm: the alg picks the key.
  add('kid_absent_keys_of_other_types', { keys: [rs.jwk, jwk, keys.EdDSA.jwk] },
    await sign('ES256', es.privateKey), 'valid');
  // No kid, two keys fit: edge-auth refuses to guess (so does jose: ERR_JWKS_MULTIPLE_MATCHING_KEYS).
  const other = await keyPair('ES256');
  add('kid_absent_two_candidate_keys', { keys: [jwk, other.jwk] }, await sign('ES256', es.privateKey),
    'AmbiguousKey', {}, { note: 'no RFC rule; RFC 7515 §4.1.4 lets the kid disambiguate, and without one edge-auth does not guess' });
}
add('kid_unknown', { keys: [rs.jwk] }, await sign('RS256', rs.privateKey, { kid: 'not-in-set' }), 'UnknownKey');
{
  // WebCrypto's own JWK export (jose strips these): alg, ext, key_ops.
  const raw = await webcrypto.subtle.exportKey('jwk', keys['PS256-2048'].publicKey);
  raw.kid = 'webcrypto-ps256';
  add('webcrypto_export_alg_ext_key_ops', { keys: [raw] },
    await sign('PS256', keys['PS256-2048'].privateKey, { kid: raw.kid }), 'valid');
  // The key says PS256 (RFC 7517 §4.4); a PS384 token with it is refused.
  const k = await webcrypto.subtle.importKey('jwk', { ...keys['PS256-2048'].jwk }, { name: 'RSA-PSS', hash: 'SHA-256' }, true, ['verify']);
  void k;
  const ps384 = await keyPair('PS384', { modulusLength: 2048 });
  const raw384 = await webcrypto.subtle.exportKey('jwk', ps384.publicKey);
  raw384.kid = 'webcrypto-ps384';
  raw384.alg = 'PS256';
  add('jwk_alg_differs_from_token_alg', { keys: [raw384] },
    await sign('PS384', ps384.privateKey, { kid: raw384.kid }), 'KeyMismatch',
    { algorithms: ['PS256', 'PS384'] },
    { note: 'RFC 7517 §4.4 / RFC 8725 §3.1: the key names the one algorithm it is for' });
  // Member order, `use: sig` and unknown members do not matter (RFC 7517 §4).
  const reordered = { e: rs.jwk.e, n: rs.jwk.n, use: 'sig', x_vendor: { a: [1, 2] }, kid: 'reordered', kty: 'RSA', alg: 'RS256' };
  add('jwk_member_order_use_sig_extras', { keys: [reordered] },
    await sign('RS256', rs.privateKey, { kid: 'reordered' }), 'valid');
  // An encryption key (`use: enc`) is never a verification key.
  add('jwk_use_enc_skipped', { keys: [{ ...rs.jwk, use: 'enc' }] },
    await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 'UnknownKey');
  // key_ops without verify (RFC 7517 §4.3).
  add('jwk_key_ops_without_verify_skipped', { keys: [{ ...rs.jwk, key_ops: ['encrypt'] }] },
    await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 'UnknownKey');
  // A private JWK in a verification set is refused (and skipped).
  const priv = await jose.exportJWK(rs.privateKey);
  priv.kid = rs.jwk.kid;
  add('jwk_private_members_skipped', { keys: [priv] },
    await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 'UnknownKey');
}

{
  // kid matching: a token kid needs a key with that kid; a token without
  // one may use a key that has one.
  const { kid, ...nokid } = rs.jwk;
  add('token_kid_key_without_kid', { keys: [nokid] }, await sign('RS256', rs.privateKey, { kid: 'k1' }), 'UnknownKey');
  add('token_without_kid_key_with_kid', { keys: [rs.jwk] }, await sign('RS256', rs.privateKey), 'valid');
  // Two keys of one type under one kid (RFC 7517 §4.5 SHOULD be distinct):
  // edge-auth drops both rather than guess; jose refuses as well (multiple matching keys).
  const other = await keyPair('RS256');
  add('jwks_duplicate_kid_same_kty', { keys: [rs.jwk, { ...other.jwk, kid: rs.jwk.kid }] },
    await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 'UnknownKey', {},
    { note: 'RFC 7517 §4.5: keys of a set SHOULD have distinct kids; edge-auth skips both keys of a clash' });
  // Keys edge-auth cannot use sit beside the one it needs (RFC 7517 §5:
  // ignore what is not understood).
  const x25519 = await jose.generateKeyPair('ECDH-ES', { crv: 'X25519', extractable: true });
  const xjwk = await jose.exportJWK(x25519.publicKey);
  add('jwks_with_unusable_keys_tolerated', {
    keys: [
      { ...keys.ES512.jwk },
      { ...xjwk, kid: 'x25519', use: 'enc' },
      { kty: 'AKP', alg: 'ML-DSA-44', kid: 'pq', pub: 'AAAA' },
      { ...other.jwk, kid: 'enc', use: 'enc', alg: 'RSA-OAEP-256' },
      { kty: 'RSA', kid: 'broken', n: 'not base64!', e: 'AQAB' },
      rs.jwk,
    ],
  }, await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 'valid');
}
{
  // A JWS whose payload is not a JSON object is not a JWT (RFC 7519 §7.2 step 10).
  const text = await new jose.CompactSign(enc.encode('hello')).setProtectedHeader({ alg: 'RS256', kid: rs.jwk.kid }).sign(rs.privateKey);
  add('payload_not_json', { keys: [rs.jwk] }, text, 'Malformed', {}, { part: 'claims' });
  const arr = await new jose.CompactSign(enc.encode('[{"exp":1795431600}]')).setProtectedHeader({ alg: 'RS256', kid: rs.jwk.kid }).sign(rs.privateKey);
  add('payload_json_array', { keys: [rs.jwk] }, arr, 'Malformed', {}, { part: 'claims' });
}

// --- claims ----------------------------------------------------------------

add('aud_string', { keys: [rs.jwk] }, await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 'valid');
add('aud_array', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ aud: ['https://other.example', AUD] })), 'valid');
add('aud_array_without_ours', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ aud: ['https://other.example', 'api://elsewhere'] })), 'AudienceMismatch');
add('aud_wrong', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ aud: 'api://elsewhere' })), 'AudienceMismatch');
add('iss_wrong', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ iss: 'https://evil.example' })), 'IssuerMismatch');
add('exp_missing', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, (({ exp, ...c }) => c)(claims())), 'MissingClaim');
add('expired', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ exp: NOW - 120 })), 'Expired');
add('expired_within_leeway', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ exp: NOW - 30 })), 'valid');
// Boundaries (RFC 7519 §4.1.4: now must be before exp; §4.1.5: now at or
// after nbf), each widened by the 60 s leeway.
add('exp_at_leeway_boundary', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ exp: NOW - LEEWAY })), 'Expired');
add('exp_one_second_inside_leeway', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ exp: NOW - LEEWAY + 1 })), 'valid');
add('nbf_at_leeway_boundary', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ nbf: NOW + LEEWAY })), 'valid');
add('nbf_one_second_past_leeway', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ nbf: NOW + LEEWAY + 1 })), 'NotYetValid');
// RFC 7519 §4.1.3: a recipient that does not identify itself with a
// value in a present `aud` MUST reject. jose skips the check when no
// audience is configured.
add('aud_present_no_audience_configured', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 'AudienceMismatch', { audiences: [] },
  { note: 'RFC 7519 §4.1.3: aud present and the recipient names no audience: MUST reject (jose accepts)' });
add('aud_absent_no_audience_configured', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ aud: undefined })), 'valid', { audiences: [] });
add('aud_absent_audience_configured', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ aud: undefined })), 'MissingClaim');
add('nbf_future', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ nbf: NOW + 600 })), 'NotYetValid');
// RFC 7519 §4.1.6 makes iat informational; a token issued in the future
// (beyond the leeway) is refused by edge-auth as by PyJWT, while jose
// checks iat only with maxTokenAge. A policy choice RFC 7519 §4.1 allows.
add('iat_future', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ iat: NOW + 600 })), 'IssuedInFuture',
  {}, { note: 'jose does not check iat without maxTokenAge; RFC 7519 §4.1.6 leaves it to the application, edge-auth refuses a future iat' });
// NumericDate may be fractional (RFC 7519 §2); jose passes numbers through.
add('numeric_dates_fractional', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid },
    claims({ iat: IAT + 0.25, nbf: IAT - 0.5, exp: EXP + 0.75 })), 'valid');
add('exp_fractional_expired', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ exp: NOW - LEEWAY - 0.5 })), 'Expired');
add('exp_as_string', { keys: [rs.jwk] },
  await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ exp: String(EXP) })), 'Malformed',
  {}, { part: 'claims', note: 'RFC 7519 §4.1.4: exp is a NumericDate (a JSON number)' });

// --- typ ---------------------------------------------------------------------

for (const [name, typ, want, expect] of [
  ['typ_jwt_not_checked', 'JWT', undefined, 'valid'],
  ['typ_at_jwt', 'at+jwt', 'at+jwt', 'valid'],
  ['typ_application_at_jwt', 'application/at+jwt', 'at+jwt', 'valid'],
  ['typ_at_jwt_uppercase', 'AT+JWT', 'application/at+jwt', 'valid'],
  ['typ_jwt_when_at_jwt_required', 'JWT', 'at+jwt', 'TypeMismatch'],
  ['typ_absent_when_at_jwt_required', undefined, 'at+jwt', 'TypeMismatch'],
]) {
  const header = { kid: es.jwk.kid };
  if (typ !== undefined) header.typ = typ;
  const v = want === undefined ? {} : { typ: want };
  add(name, { keys: [es.jwk] }, await sign('ES256', es.privateKey, header), expect, v,
    name === 'typ_application_at_jwt' || name === 'typ_at_jwt_uppercase'
      ? { note: 'RFC 7515 §4.1.9: `application/` is implied when typ has no `/`; media types compare case-insensitively (RFC 9068 §4)' }
      : {});
}

// --- header members -------------------------------------------------------

{
  const attacker = await keyPair('RS256');
  const ignored = { kid: rs.jwk.kid, typ: 'JWT', cty: 'application/example', jku: 'https://evil.example/jwks', x5u: 'https://evil.example/cert', x5t: 'aGVsbG8', 'x5t#S256': 'aGVsbG8', x_vendor: [1, { a: null }] };
  add('header_members_ignored', { keys: [rs.jwk] }, await sign('RS256', rs.privateKey, ignored), 'valid');
  // An embedded `jwk` / `jku` naming the attacker's key is never trusted
  // (RFC 8725 §3.10): the set's key does not verify the attacker's token.
  add('header_embedded_jwk_not_trusted', { keys: [rs.jwk] },
    await sign('RS256', attacker.privateKey, { kid: rs.jwk.kid, jwk: attacker.jwk }), 'BadSignature');
  add('header_jku_not_followed', { keys: [rs.jwk] },
    await sign('RS256', attacker.privateKey, { kid: rs.jwk.kid, jku: 'https://evil.example/jwks' }), 'BadSignature');
  // crit naming an extension we do not implement (RFC 7515 §4.1.11).
  const critToken = await new jose.SignJWT(claims())
    .setProtectedHeader({ alg: 'RS256', kid: rs.jwk.kid, crit: ['urn:example:ext'], 'urn:example:ext': true })
    .sign(rs.privateKey, { crit: { 'urn:example:ext': true } });
  add('header_crit_unknown_extension', { keys: [rs.jwk] }, critToken, 'UnsupportedHeader');
  // RFC 7797 unencoded payload. jose makes it with the flattened API; its
  // compact form is `protected..signature` (detached) or, for a payload
  // without dots, `protected.payload.signature`.
  const payload = '{"sub":"alice","exp":1795431600}';
  const flat = await new jose.FlattenedSign(enc.encode(payload))
    .setProtectedHeader({ alg: 'RS256', kid: rs.jwk.kid, b64: false, crit: ['b64'] })
    .sign(rs.privateKey);
  add('header_b64_false_detached', { keys: [rs.jwk] }, `${flat.protected}..${flat.signature}`, 'UnsupportedHeader');
  add('header_b64_false_attached', { keys: [rs.jwk] }, `${flat.protected}.${payload}.${flat.signature}`, 'UnsupportedHeader');
}

// --- strict compact serialization and exact comparisons ----------------------

{
  const good = await sign('RS256', rs.privateKey, { kid: rs.jwk.kid });
  // RFC 7515 §2 / §7.1: base64url without padding, line breaks or
  // whitespace. jose decodes with atob(), which skips whitespace.
  add('trailing_newline', { keys: [rs.jwk] }, `${good}\n`, 'Malformed', {},
    { part: 'signature', note: 'RFC 7515 §7.1: no whitespace in the compact serialization (jose\'s atob decoder skips it)' });
  const [h, p, sg] = good.split('.');
  const padded = sg.length % 4 ? `${h}.${p}.${sg}${'='.repeat(4 - (sg.length % 4))}` : `${h}.${p}.${sg}`;
  if (padded === good) throw new Error('signature needs no padding');
  add('padded_signature', { keys: [rs.jwk] }, padded, 'Malformed', {},
    { part: 'signature', note: 'RFC 7515 §2: base64url with all trailing `=` omitted' });
  // The standard alphabet's `+` and `/` are not base64url. (A 2048-bit
  // signature without `-` or `_` has odds of about 2e-5; then rerun.)
  if (!/[-_]/.test(sg)) throw new Error('signature has no `-` or `_`; rerun');
  add('signature_standard_base64', { keys: [rs.jwk] },
    `${h}.${p}.${Buffer.from(sg, 'base64url').toString('base64').replace(/=+$/, '')}`, 'Malformed', {},
    { part: 'signature', note: 'RFC 7515 §2: the URL-safe alphabet only' });
  // `alg` is case-sensitive (RFC 7515 §4.1.1).
  const lower = `${b64u(JSON.stringify({ alg: 'rs256', kid: rs.jwk.kid }))}.${p}`;
  add('alg_lowercase', { keys: [rs.jwk] }, `${lower}.${sg}`, 'UnsupportedAlgorithm', { algorithms: ['RS256'] });
  // iss and aud are compared as case-sensitive strings with no
  // normalisation (RFC 7519 §2 StringOrURI, §4.1.1, §4.1.3).
  add('iss_trailing_slash', { keys: [rs.jwk] },
    await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ iss: `${ISS}/` })), 'IssuerMismatch');
  add('iss_case_differs', { keys: [rs.jwk] },
    await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ iss: ISS.toUpperCase() })), 'IssuerMismatch');
  add('aud_case_differs', { keys: [rs.jwk] },
    await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ aud: AUD.toUpperCase() })), 'AudienceMismatch');
  // An exp in milliseconds (a producer bug) is a date in the year 58 860.
  // RFC 7519 §2 sets no upper bound and jose accepts it as far future;
  // edge-auth refuses dates past 9999-12-31 as malformed (documented in
  // validate.rs `numeric_date`), which also catches the bug.
  add('exp_in_milliseconds', { keys: [rs.jwk] },
    await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }, claims({ exp: EXP * 1000 })), 'Malformed', {},
    { part: 'claims', note: 'deliberately stricter than RFC 7519 §2 (no bound): dates past year 9999 are refused' });
}
{
  // One kid on keys of different types is legitimate (RFC 7517 §4.5);
  // the token's alg picks the key.
  add('same_kid_different_kty', { keys: [{ ...rs.jwk, kid: 'k1' }, { ...es.jwk, kid: 'k1' }] },
    await sign('ES256', es.privateKey, { kid: 'k1' }), 'valid');
  // RFC 9278 thumbprint URI as kid: kid is opaque (RFC 7515 §4.1.4).
  const jwk = { ...es.jwk };
  delete jwk.kid;
  jwk.kid = await jose.calculateJwkThumbprintUri(jwk);
  add('kid_thumbprint_uri', { keys: [jwk] }, await sign('ES256', es.privateKey, { kid: jwk.kid }), 'valid');
  // Members beside `keys` are ignored (RFC 7517 §5).
  add('jwks_extra_top_level_members', { keys: [rs.jwk], cache_hint: 300, 'x-vendor': { a: 1 } },
    await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 'valid');
}

// --- refused shapes and attacks ----------------------------------------------

add('alg_none_unsecured_jwt', { keys: [rs.jwk] }, new jose.UnsecuredJWT(claims()).encode(), 'Unsecured',
  { algorithms: ['RS256'] });
add('tampered_payload', { keys: [rs.jwk] },
  tamper(await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 1), 'BadSignature');
add('tampered_signature', { keys: [rs.jwk] },
  tamper(await sign('RS256', rs.privateKey, { kid: rs.jwk.kid }), 2), 'BadSignature');
add('tampered_signature_es256', { keys: [es.jwk] },
  tamper(await sign('ES256', es.privateKey, { kid: es.jwk.kid }), 2), 'BadSignature');
{
  // Algorithm confusion: HS256 keyed with the RSA public key's PEM bytes.
  const pem = await jose.exportSPKI(rs.publicKey);
  const confused = await sign('HS256', enc.encode(pem), { kid: rs.jwk.kid });
  add('alg_confusion_hs256_with_rsa_public_key', { keys: [rs.jwk] }, confused, 'AlgorithmNotAllowed',
    { algorithms: ['RS256'] });
  add('alg_confusion_hs256_allowed_rsa_key', { keys: [rs.jwk] }, confused, 'KeyMismatch',
    { algorithms: ['RS256', 'HS256'], allow_symmetric: true });
  // Also keyed with the JWK's `n` bytes, no kid.
  const confusedN = await sign('HS256', Buffer.from(rs.jwk.n, 'base64url'));
  add('alg_confusion_hs256_no_kid', { keys: [rs.jwk] }, confusedN, 'UnknownKey',
    { algorithms: ['RS256', 'HS256'], allow_symmetric: true });
}
{
  // ES256 over a P-384 key's token with the P-256 kid: type checks first.
  const es384 = keys.ES384;
  add('es384_token_p256_key', { keys: [{ ...es.jwk, kid: 'k' }] },
    await sign('ES384', es384.privateKey, { kid: 'k' }), 'KeyMismatch');
}
{
  const payload = enc.encode(JSON.stringify(claims()));
  const flat = await new jose.FlattenedSign(payload).setProtectedHeader({ alg: 'RS256', kid: rs.jwk.kid }).sign(rs.privateKey);
  add('jws_json_flattened_refused', { keys: [rs.jwk] }, JSON.stringify(flat), 'Malformed', {},
    { part: 'token', note: 'JWTs use the compact serialization (RFC 7519 §7.2 step 1 via RFC 7515 §7.1)' });
  const general = await new jose.GeneralSign(payload).addSignature(rs.privateKey).setProtectedHeader({ alg: 'RS256', kid: rs.jwk.kid }).sign();
  add('jws_json_general_refused', { keys: [rs.jwk] }, JSON.stringify(general), 'Malformed', {}, { part: 'token' });
}
{
  const secret = await jose.generateSecret('A256GCM', { extractable: true });
  const jwe = await new jose.EncryptJWT(claims()).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(secret);
  add('jwe_compact_dir_refused', { keys: [rs.jwk] }, jwe, 'Malformed', { algorithms: ['RS256'] }, { part: 'token' });
  const { publicKey } = await jose.generateKeyPair('RSA-OAEP-256', { extractable: true });
  const jwe2 = await new jose.EncryptJWT(claims()).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A128GCM', kid: rs.jwk.kid }).encrypt(publicKey);
  add('jwe_compact_rsa_oaep_refused', { keys: [rs.jwk] }, jwe2, 'Malformed', { algorithms: ['RS256'] }, { part: 'token' });
}
{
  // A nested JWT (cty JWT, RFC 7519 §5.2): the outer payload is a JWT,
  // not a claims set; edge-auth does not unwrap nested JWTs.
  const inner = await sign('RS256', rs.privateKey, { kid: rs.jwk.kid });
  const nested = await new jose.CompactSign(enc.encode(inner))
    .setProtectedHeader({ alg: 'RS256', kid: rs.jwk.kid, cty: 'JWT' }).sign(rs.privateKey);
  add('nested_jwt_cty_jwt', { keys: [rs.jwk] }, nested, 'Malformed', {}, { part: 'claims' });
}
{
  // An RSA key below 2048 bits cannot be made with jose; WebCrypto can.
  const small = await webcrypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
  const jwk = await jose.exportJWK(small.publicKey);
  jwk.kid = 'rsa1024';
  const input = `${b64u(JSON.stringify({ alg: 'RS256', kid: 'rsa1024' }))}.${b64u(JSON.stringify(claims()))}`;
  const sig = new Uint8Array(await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', small.privateKey, enc.encode(input)));
  add('rsa_1024_key_refused', { keys: [jwk] }, `${input}.${b64u(sig)}`, 'UnknownKey', {},
    { note: 'RFC 7518 §3.3: keys of 2048 bits or larger MUST be used' });
}
{
  // HS256 with a 16-byte secret: below RFC 7518 §3.2's minimum, not loaded.
  const short = enc.encode('0123456789abcdef');
  const token = await new jose.SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'short' }).sign(short).catch(() => null);
  if (token) {
    add('hs256_short_secret_refused', { keys: [{ kty: 'oct', kid: 'short', k: b64u(short) }] }, token, 'UnknownKey',
      { allow_symmetric: true }, { note: 'RFC 7518 §3.2: a key of the same size as the hash output or larger MUST be used' });
  } else {
    // jose refuses to sign with it; sign by hand.
    const input = `${b64u(JSON.stringify({ alg: 'HS256', kid: 'short' }))}.${b64u(JSON.stringify(claims()))}`;
    const mac = createHmac('sha256', short).update(input).digest();
    add('hs256_short_secret_refused', { keys: [{ kty: 'oct', kid: 'short', k: b64u(short) }] }, `${input}.${b64u(mac)}`,
      'UnknownKey', { allow_symmetric: true },
      { note: 'RFC 7518 §3.2: a key of the same size as the hash output or larger MUST be used (jose refuses to sign; signed with node:crypto)' });
  }
}

for (const c of cases) c.peer = await peerVerdict(c);

const version = JSON.parse(readFileSync(new URL('./node_modules/jose/package.json', import.meta.url))).version;
const out = {
  generator: `jose ${version} (panva/jose) on Node ${process.versions.node}`,
  cases,
};
writeFileSync(new URL('./jose-node.json', import.meta.url), JSON.stringify(out, null, 1) + '\n');
console.log(`wrote ${cases.length} cases`);
for (const c of cases) {
  const peer = c.peer === 'valid' ? 'valid' : 'refused';
  const ours = c.expect === 'valid' ? 'valid' : 'refused';
  if (peer !== ours) console.log(`  differs from jose: ${c.name}: ours ${c.expect}, jose ${c.peer}`);
}
