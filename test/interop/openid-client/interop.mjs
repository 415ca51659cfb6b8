// Drives a running Gatehouse with openid-client v6 (panva), a certified
// OpenID Connect relying party: OpenID discovery, the code flow with PKCE and
// nonce where openid-client validates the ID token (signature via the JWKS,
// iss, aud, exp, nonce, at_hash), UserInfo with the expected subject, refresh
// with offline_access, and the RP-initiated logout URL. Inputs come from the
// environment; the Go acceptance test sets them. Exit status 0 = all passed.
import * as client from 'openid-client'
import assert from 'node:assert/strict'

const env = (k) => {
  const v = process.env[k]
  if (!v) throw new Error(`missing ${k}`)
  return v
}
const issuer = new URL(env('ISSUER'))

let passed = 0
const steps = []
const step = (name, fn) => steps.push([name, fn])

let config, tokens, claims
step('OpenID discovery (/.well-known/openid-configuration)', async () => {
  // Loopback test server over plain HTTP; production issuers must be https.
  config = await client.discovery(issuer, env('CLIENT_ID'), env('CLIENT_SECRET'), undefined, {
    execute: [client.allowInsecureRequests],
  })
  const md = config.serverMetadata()
  assert.equal(md.issuer, issuer.href.replace(/\/$/, ''))
  assert.ok(md.jwks_uri && md.userinfo_endpoint && md.end_session_endpoint)
  assert.ok(md.scopes_supported.includes('openid'))
})
step('code + PKCE + nonce: ID token validated (JWKS signature, iss, aud, nonce, at_hash)', async () => {
  tokens = await client.authorizationCodeGrant(config, new URL(env('CALLBACK_URL')), {
    pkceCodeVerifier: env('CODE_VERIFIER'),
    expectedState: env('STATE'),
    expectedNonce: env('NONCE'),
    idTokenExpected: true,
  })
  claims = tokens.claims()
  assert.ok(claims.sub)
  // A public client sees the user id; a pairwise one its own sub.
  if (process.env.SUB_IS) assert.equal(claims.sub, process.env.SUB_IS)
  if (process.env.SUB_IS_NOT) assert.notEqual(claims.sub, process.env.SUB_IS_NOT)
  assert.equal(claims.nonce, env('NONCE'))
  assert.ok(claims.auth_time > 0)
  assert.deepEqual(claims.amr, ['pwd'])
  assert.ok(tokens.refresh_token, 'offline_access yields a refresh token')
})
step('UserInfo: sub matches the ID token', async () => {
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  assert.equal(info.sub, claims.sub)
  assert.equal(info.email, env('EMAIL'))
  // The account was made with `gatehouse user create`: the operator vouches
  // for its address, so it is verified.
  assert.equal(info.email_verified, true)
})
step('refresh (offline_access): new tokens and an ID token for the same subject', async () => {
  const next = await client.refreshTokenGrant(config, tokens.refresh_token)
  assert.notEqual(next.refresh_token, tokens.refresh_token)
  assert.equal(next.claims().sub, claims.sub)
  assert.equal(next.claims().auth_time, claims.auth_time)
})
step('RP-initiated logout URL', async () => {
  const url = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: env('POST_LOGOUT_URI'), state: 'bye' })
  console.log(`LOGOUT_URL=${url.href}`)
})

let failed = 0
for (const [name, fn] of steps) {
  try {
    await fn()
    passed++
    console.log(`ok   ${name}`)
  } catch (err) {
    failed++
    console.log(`FAIL ${name}: ${err?.stack ?? err}`)
    break // later steps depend on earlier ones
  }
}
console.log(`openid-client: ${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
