// Verifies the tokens edge-auth minted (cases.json) with panva/jose (pinned
// in package.json), each with its case's settings: issuer, audience, the
// pinned algorithms, required claims, clock tolerance 0, the case's `now`.
// Writes node.json: one verdict per case (`valid` or `invalid: <code>`) and
// jose's RFC 7638 thumbprint of every published key, by kid.
// Offline once `npm ci` ran; CI does not run it (see README.md).
//
//     cd tests/interop/mint && npm ci && node verify.mjs

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify } from 'jose';

const here = new URL('.', import.meta.url);
const { cases } = JSON.parse(readFileSync(new URL('cases.json', here)));
const joseVersion = createRequire(import.meta.url)('jose/package.json').version;

const verdicts = {};
const thumbprints = {};
for (const c of cases) {
  const s = c.settings;
  try {
    await jwtVerify(c.token, createLocalJWKSet(c.jwks), {
      issuer: s.issuer,
      audience: s.audience,
      algorithms: s.algorithms,
      requiredClaims: s.required_claims,
      currentDate: new Date(c.now * 1000),
      clockTolerance: 0,
    });
    verdicts[c.name] = 'valid';
  } catch (e) {
    verdicts[c.name] = `invalid: ${e.code ?? e.name}`;
  }
  for (const jwk of c.jwks.keys) {
    thumbprints[jwk.kid] = await calculateJwkThumbprint(jwk, 'sha256');
  }
}

const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
const out = {
  generator: `jose ${joseVersion} on Node ${process.versions.node}`,
  verdicts: sorted(verdicts),
  thumbprints: sorted(thumbprints),
};
writeFileSync(new URL('node.json', here), JSON.stringify(out, null, 2) + '\n');
for (const [name, v] of Object.entries(verdicts)) console.log(`${name}: ${v}`);
