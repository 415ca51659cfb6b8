// Drives a running Gatehouse with oauth4webapi (panva), an independent OAuth
// 2.0 client that validates responses strictly: RFC 8414 metadata (issuer
// match), RFC 9207 `iss` in the authorization response, token responses,
// introspection (RFC 7662) and revocation (RFC 7009). Inputs come from the
// environment; the Go acceptance test sets them. Exit status 0 = all passed.
import * as oauth from 'oauth4webapi'
import assert from 'node:assert/strict'

const env = (k) => {
  const v = process.env[k]
  if (!v) throw new Error(`missing ${k}`)
  return v
}
const issuer = new URL(env('ISSUER'))
const client = { client_id: env('CLIENT_ID') }
const auth = oauth.ClientSecretBasic(env('CLIENT_SECRET'))
// Loopback test server over plain HTTP; production issuers must be https.
const insecure = { [oauth.allowInsecureRequests]: true }

let passed = 0
const steps = []
const step = (name, fn) => steps.push([name, fn])

let as, ccToken, codeTokens, rotated
step('RFC 8414 discovery: issuer matches, endpoints advertised', async () => {
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }))
  assert.equal(as.issuer, issuer.href.replace(/\/$/, ''))
  assert.ok(as.code_challenge_methods_supported.includes('S256'))
  assert.equal(as.authorization_response_iss_parameter_supported, true)
})
step('client_credentials with client_secret_basic', async () => {
  const res = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams({ scope: 'profile:read' }), insecure)
  ccToken = await oauth.processClientCredentialsResponse(as, client, res)
  assert.equal(ccToken.token_type, 'bearer') // oauth4webapi lower-cases it
  assert.ok(ccToken.expires_in > 0)
})
step('RFC 6750 bearer request to /v0/me', async () => {
  const res = await oauth.protectedResourceRequest(ccToken.access_token, 'GET', new URL('/v0/me', issuer), undefined, undefined, insecure)
  assert.equal(res.status, 200)
})
step('RFC 7662 introspection of a live token', async () => {
  const res = await oauth.introspectionRequest(as, client, auth, ccToken.access_token, insecure)
  const info = await oauth.processIntrospectionResponse(as, client, res)
  assert.equal(info.active, true)
  assert.equal(info.client_id, client.client_id)
})
step('RFC 7009 revocation, then introspection says inactive', async () => {
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, ccToken.access_token, insecure))
  const info = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, ccToken.access_token, insecure))
  assert.deepEqual(info, { active: false })
})
step('RFC 9207: authorization response carries the right iss and state', async () => {
  const params = oauth.validateAuthResponse(as, client, new URL(env('CALLBACK_URL')), env('STATE'))
  const res = await oauth.authorizationCodeGrantRequest(as, client, auth, params, env('REDIRECT_URI'), env('CODE_VERIFIER'), insecure)
  codeTokens = await oauth.processAuthorizationCodeResponse(as, client, res)
  assert.ok(codeTokens.access_token && codeTokens.refresh_token)
})
step('refresh token rotation', async () => {
  const res = await oauth.refreshTokenGrantRequest(as, client, auth, codeTokens.refresh_token, insecure)
  rotated = await oauth.processRefreshTokenResponse(as, client, res)
  assert.notEqual(rotated.refresh_token, codeTokens.refresh_token)
})
step('reused refresh token is invalid_grant', async () => {
  const res = await oauth.refreshTokenGrantRequest(as, client, auth, codeTokens.refresh_token, insecure)
  await assert.rejects(oauth.processRefreshTokenResponse(as, client, res), (err) => {
    assert.ok(err instanceof oauth.ResponseBodyError)
    assert.equal(err.error, 'invalid_grant')
    return true
  })
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
console.log(`oauth4webapi: ${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
