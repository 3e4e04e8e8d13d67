// A strict OpenID Connect relying party built on openid-client (panva's certified library), driven by
// crates/server/tests/oidc_openid_client.rs. The library does the protocol work; this script only says what it
// asked for and checks what the library leaves to its caller (marked "not done by the library" below).
//
// Protocol (JSON, one object a line):
//   argv[2]        the scenario: {issuer, client_id, client_secret, redirect_uri, clock_skew,
//                  auth: "basic"|"post"|"private_key_jwt" (then private_key_pem: a PKCS#8 PEM file, and kid),
//                  scope, par, max_age?, acr_values?, claims?, expected_acr?, forge_id_token?}
//   stdout         {"step": "authorize", "url": …}       the authorization URL for the browser
//   stdin          {"location": …}                        the redirect back to redirect_uri, as the browser got it
//   stdout         {"step": "done", …summary}  or  {"step": "failed", "stage": …, "error": {…}}
// Anything else (diagnostics) goes to stderr. The exit code is 0 for "done" and "failed" alike (the Rust test
// decides what it expected); 2 for a broken protocol.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import * as client from 'openid-client';

const scenario = JSON.parse(process.argv[2] ?? 'null');

/// How the client proves itself at the token, PAR, introspection and revocation endpoints, by the library's own
/// methods: a secret (HTTP Basic or in the form), or a private_key_jwt assertion (RFC 7523) signed with an
/// ES256 key the library is given as a WebCrypto key.
async function clientAuth(scenario, clientSecret) {
  switch (scenario.auth) {
    case 'post':
      return client.ClientSecretPost(clientSecret);
    case 'private_key_jwt': {
      const pem = readFileSync(scenario.private_key_pem, 'utf8');
      const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
      const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
      const key = await crypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
      return client.PrivateKeyJwt({ key, kid: scenario.kid });
    }
    default:
      return client.ClientSecretBasic(clientSecret);
  }
}
if (!scenario) {
  console.error('usage: node relying_party.mjs <scenario JSON>');
  process.exit(2);
}

// A test must never hang: give up after a minute whatever happens.
setTimeout(() => {
  console.error('relying_party.mjs: timed out');
  process.exit(2);
}, 60_000).unref();

const say = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);

const stdin = createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();
async function hear() {
  const { value, done } = await lines.next();
  if (done) {
    console.error('relying_party.mjs: stdin closed before the expected line');
    process.exit(2);
  }
  return JSON.parse(value);
}

// What failed, in a form the Rust test can assert on: openid-client's errors carry `code` (OAUTH_* or ERR_*),
// a ResponseBodyError the server's `error` and `error_description`, an AuthorizationResponseError likewise.
function describe(error) {
  return {
    name: error?.name,
    code: error?.code,
    error: error?.error,
    error_description: error?.error_description,
    status: error?.status,
    message: error?.message,
    cause: error?.cause?.message ?? (typeof error?.cause === 'string' ? error.cause : undefined),
  };
}

let stage = 'discovery';
try {
  const {
    issuer,
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uri: redirectUri,
    clock_skew: clockSkew,
  } = scenario;

  // The provider's clock in the tests is a manual clock (2026-06-01 08:00 UTC), not the wall clock: the
  // library's per-client clock offset (seconds to add to the local time) makes it check `exp`, `iat` and
  // `auth_time` against the provider's time instead of finding every token expired or issued in the future.
  const metadata = { redirect_uris: [redirectUri], [client.clockSkew]: clockSkew };
  const auth = await clientAuth(scenario, clientSecret);
  const config = await client.discovery(new URL(issuer), clientId, metadata, auth, {
    execute: [
      // The only concession: the test server is plain http on 127.0.0.1, which the library refuses unless told.
      client.allowInsecureRequests,
      // Verify the ID token's signature against the provider's JWKS (jwks_uri from discovery). Over TLS the
      // library may skip it (OIDC Core §3.1.3.7 item 6); a test of the provider must not.
      client.enableNonRepudiationChecks,
    ],
  });
  const server = config.serverMetadata();

  if (scenario.forge_id_token) {
    // A test of this relying party, not of the provider: a man in the middle changes the ID token's `sub` in
    // the token response and keeps the provider's signature. The library must refuse it (signature checked
    // against the JWKS), which shows that enableNonRepudiationChecks is in force.
    config[client.customFetch] = async (url, options) => {
      const response = await fetch(url, options);
      if (String(url) !== server.token_endpoint || !response.ok) return response;
      const body = await response.json();
      const [header, payload, signature] = body.id_token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      claims.sub = 'someone-else';
      body.id_token = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
      const headers = new Headers(response.headers);
      headers.delete('content-length');
      return new Response(JSON.stringify(body), { status: response.status, headers });
    };
  }

  stage = 'authorization request';
  const codeVerifier = client.randomPKCECodeVerifier();
  const parameters = {
    redirect_uri: redirectUri,
    scope: scenario.scope,
    response_type: 'code',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
  if (scenario.max_age !== undefined) parameters.max_age = String(scenario.max_age);
  if (scenario.acr_values !== undefined) parameters.acr_values = scenario.acr_values;
  if (scenario.claims !== undefined) parameters.claims = JSON.stringify(scenario.claims);
  const url = scenario.par
    ? await client.buildAuthorizationUrlWithPAR(config, parameters)
    : client.buildAuthorizationUrl(config, parameters);
  say({ step: 'authorize', url: url.href });

  stage = 'authorization response';
  const { location } = await hear();

  stage = 'code exchange';
  // The library checks the response's `state` and `iss` (RFC 9207, announced in discovery), sends the PKCE
  // verifier and the exact redirect_uri, and checks the ID token: algorithm among the provider's
  // id_token_signing_alg_values_supported (ES256), signature (enableNonRepudiationChecks), `iss`, `aud`, `exp`,
  // `iat`, `sub`, `nonce`, and `auth_time` against `max_age`.
  const tokens = await client.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: codeVerifier,
    expectedState: parameters.state,
    expectedNonce: parameters.nonce,
    idTokenExpected: true,
    ...(scenario.max_age !== undefined && { maxAge: scenario.max_age }),
  });
  const claims = tokens.claims();
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString());

  // Not done by the library: the level of assurance. `acr` is only asked for (acr_values / claims), never
  // compared by openid-client, so a relying party must check it itself.
  const expectedAcr = scenario.expected_acr ?? 'urn:dinhdanh:loa:1';
  if (claims.acr !== expectedAcr) throw new Error(`acr ${claims.acr} is not ${expectedAcr}`);
  // Not done by the library: `at_hash` (OIDC Core §3.1.3.8, optional in the code flow; the provider sends
  // it). For ES256: the left half of SHA-256 of the access token, base64url.
  if (header.alg !== 'ES256') throw new Error(`alg ${header.alg}`);
  const digest = createHash('sha256').update(tokens.access_token, 'ascii').digest();
  const atHash = digest.subarray(0, digest.length / 2).toString('base64url');
  if (claims.at_hash !== atHash) throw new Error(`at_hash ${claims.at_hash} is not ${atHash}`);

  stage = 'userinfo';
  // The library checks that userinfo's `sub` is the ID token's.
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  stage = 'introspection';
  const introspected = await client.tokenIntrospection(config, tokens.access_token);

  // Revoking the access token (RFC 7009) ends it at once, and it alone: the refresh token still works below.
  stage = 'revocation';
  await client.tokenRevocation(config, tokens.access_token);
  const revoked = await client.tokenIntrospection(config, tokens.access_token);

  const summary = {
    step: 'done',
    library: JSON.parse(readFileSync(new URL('./node_modules/openid-client/package.json', import.meta.url))).version,
    issuer: server.issuer,
    authorization_url: url.href,
    id_token_header: header,
    claims,
    token_type: tokens.token_type,
    scope: tokens.scope,
    expires_in: tokens.expiresIn(),
    userinfo,
    introspection: { active: introspected.active, client_id: introspected.client_id, scope: introspected.scope },
    introspection_after_revocation: { active: revoked.active },
    refresh: null,
  };

  if (tokens.refresh_token) {
    stage = 'refresh';
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    const again = refreshed.claims();
    // Not done by the library: a refreshed ID token names the same holder with the same `auth_time` (Core
    // §12.2); its `iss`, `aud`, `exp` and signature the library checked as above.
    if (again && (again.sub !== claims.sub || again.auth_time !== claims.auth_time)) {
      throw new Error(`refreshed ID token for ${again.sub} at ${again.auth_time}`);
    }
    const refreshedUserinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    // The rotated token presented again is reuse: the provider revokes the family, so the new one dies too.
    stage = 'refresh reuse';
    const refuse = (promise) =>
      promise.then(
        () => ({ refused: false }),
        (error) => ({ refused: true, error: describe(error) }),
      );
    const reuse = await refuse(client.refreshTokenGrant(config, tokens.refresh_token));
    const afterReuse = await refuse(client.refreshTokenGrant(config, refreshed.refresh_token));
    summary.refresh = {
      rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
      id_token: again ?? null,
      userinfo_sub: refreshedUserinfo.sub,
      reuse,
      after_reuse: afterReuse,
    };
  }

  say(summary);
} catch (error) {
  console.error(error);
  say({ step: 'failed', stage, error: describe(error) });
}
process.exit(0);
