// OAUTHBEARER's parts alone: the client message's parser (RFC 7628), the token validator's checks (signature, key,
// expiry, issuer, audience, principal claim, unsigned tokens) and where the issuer's keys come from (a file read again
// when it changes, an http URL fetched again for a key it did not have).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { InvalidTokenError, OAuthBearerValidator, parseClientResponse, type OAuthBearerConfig } from '../../src/broker/oauth-bearer.js';
import { clientResponse, epochSeconds, issuer, keySet, unsignedToken } from '../helpers/oauth-tokens.js';
import { withTempDir } from '../helpers/temp-dir.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The reason `validator` refuses `token`, or null if it takes it. */
async function refusal(validator: OAuthBearerValidator, token: string): Promise<string | null> {
  try {
    await validator.validate(token);
    return null;
  } catch (err) {
    assert.ok(err instanceof InvalidTokenError, String(err));
    return err.message;
  }
}

test('the client message: GS2 header, authorization id, token and extensions; anything else is malformed', () => {
  const parsed = parseClientResponse(clientResponse('eyJ.abc-_~+/.sig==', 'bo=2Cb=3D', { traceId: 'x y', region: 'eu' }).toString());
  assert.deepEqual(parsed, { authzid: 'bo,b=', token: 'eyJ.abc-_~+/.sig==', extensions: new Map([['traceId', 'x y'], ['region', 'eu']]) });
  assert.deepEqual(parseClientResponse('n,,\x01auth=bearer   tok\x01\x01'), { authzid: null, token: 'tok', extensions: new Map() });
  const malformed: [string, RegExp][] = [
    ['auth=Bearer tok', /no GS2 header/],
    ['p=tls-unique,,\x01auth=Bearer tok\x01\x01', /channel binding/],
    ['n,alice,\x01auth=Bearer tok\x01\x01', /a=name/],
    ['n,a=al=ice,\x01auth=Bearer tok\x01\x01', /invalid authorization identity/],
    ['n,,\x01auth=Bearer tok\x01', /ending with two/],
    ['n,,auth=Bearer tok\x01\x01', /between %x01 separators/],
    ['n,,\x01\x01', /between %x01 separators/],
    ['n,,\x01auth=Bearer tok\x01x-y=1\x01\x01', /invalid key-value pair/],
    ['n,,\x01auth=Bearer tok\x01novalue\x01\x01', /invalid key-value pair/],
    ['n,,\x01auth=Bearer tok\x01auth=Bearer tok\x01\x01', /"auth" appears twice/],
    ['n,,\x01host=x\x01\x01', /no auth=Bearer token/],
    ['n,,\x01auth=Basic dXNlcjpwYXNz\x01\x01', /"Bearer" and a token/],
    ['n,,\x01auth=Bearer to ken\x01\x01', /"Bearer" and a token/],
  ];
  for (const [message, reason] of malformed) assert.throws(() => parseClientResponse(message), reason, JSON.stringify(message));
});

test('a signed token is taken for its subject until it expires; a wrong key, issuer, audience, expiry or subject is refused with the reason', async () => {
  const [rsa, ec, stranger] = await Promise.all([issuer('rsa-1'), issuer('ec-1', 'ES256'), issuer('rsa-1')]);
  const validator = OAuthBearerValidator.fromConfig({ jwks: keySet(rsa, ec), expectedIssuer: 'https://idp.example', expectedAudience: ['kafka', 'sluice'], clockSkewSeconds: 5 });
  const claims = { sub: 'alice', iss: 'https://idp.example', aud: 'sluice', exp: epochSeconds(600) };
  assert.deepEqual(await validator.validate(await rsa.sign(claims)), { principal: 'alice', expiresAt: claims.exp * 1000 });
  assert.deepEqual(await validator.validate(await ec.sign({ ...claims, aud: ['other', 'kafka'] })), { principal: 'alice', expiresAt: claims.exp * 1000 });
  // within the clock skew, an expired token is still taken
  assert.equal((await validator.validate(await rsa.sign({ ...claims, exp: epochSeconds(-3) }))).principal, 'alice');
  const refused: [Promise<string>, RegExp][] = [
    [rsa.sign({ ...claims, exp: epochSeconds(-10) }), /"exp" claim timestamp check failed/],
    [rsa.sign({ ...claims, nbf: epochSeconds(60) }), /"nbf" claim timestamp check failed/],
    [rsa.sign({ ...claims, iss: 'https://evil.example' }), /unexpected "iss" claim value/],
    [rsa.sign({ ...claims, aud: 'billing' }), /unexpected "aud" claim value/],
    [rsa.sign({ ...claims, exp: undefined }), /missing required "exp" claim/],
    [rsa.sign({ ...claims, sub: undefined }), /missing required "sub" claim/],
    [rsa.sign({ ...claims, sub: '' }), /the "sub" claim must be a non-empty string/],
    [rsa.sign({ ...claims, sub: 42 as unknown as string }), /the "sub" claim must be a non-empty string/],
    // the same kid, signed by another key
    [stranger.sign(claims), /signature verification failed/],
    [rsa.sign(claims, { kid: 'rsa-2' }), /no applicable key found/],
    [Promise.resolve(unsignedToken(claims)), /"alg" \(Algorithm\) Header Parameter value not allowed/],
    // a shared-secret signature, whatever key it names
    [new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode('a-secret-anyone-could-guess')), /"alg" \(Algorithm\) Header Parameter value not allowed/],
    [Promise.resolve('not.a.token'), /JWS Protected Header is invalid/],
  ];
  for (const [token, reason] of refused) {
    const why = await refusal(validator, await token);
    assert.ok(why !== null && reason.test(why), `${reason}: ${why}`);
  }
});

test('the principal from another claim; unsigned tokens only when asked for, and then still checked', async () => {
  const rsa = await issuer('k');
  const byClaim = OAuthBearerValidator.fromConfig({ jwks: keySet(rsa), subClaimName: 'preferred_username' });
  assert.equal((await byClaim.validate(await rsa.sign({ sub: 'uuid-1', preferred_username: 'carol', exp: epochSeconds(60) }))).principal, 'carol');
  assert.match((await refusal(byClaim, await rsa.sign({ sub: 'uuid-1', exp: epochSeconds(60) })))!, /missing required "preferred_username" claim/);
  const unsecured = OAuthBearerValidator.fromConfig({ unsecured: true, expectedAudience: ['kafka'] });
  assert.equal((await unsecured.validate(unsignedToken({ sub: 'dev', aud: 'kafka', exp: epochSeconds(60) }))).principal, 'dev');
  assert.match((await refusal(unsecured, unsignedToken({ sub: 'dev', aud: 'kafka', exp: epochSeconds(-60) })))!, /"exp" claim timestamp check failed/);
  assert.match((await refusal(unsecured, unsignedToken({ sub: 'dev', exp: epochSeconds(60) })))!, /missing required "aud" claim/);
  assert.match((await refusal(unsecured, await rsa.sign({ sub: 'dev', aud: 'kafka', exp: epochSeconds(60) })))!, /Invalid Unsecured JWT/);
});

test('the settings are checked: one source of keys, whole numbers, an audience named', () => {
  const bad: [OAuthBearerConfig, RegExp][] = [
    [{}, /exactly one of/],
    [{ unsecured: true, jwksUrl: 'https://idp.example/jwks' }, /exactly one of/],
    [{ jwks: { keys: [] }, jwksUrl: 'https://idp.example/jwks' }, /exactly one of/],
    [{ unsecured: true, clockSkewSeconds: -1 }, /clockSkewSeconds must be a whole number ≥ 0/],
    [{ unsecured: true, jwksRefreshMs: 0 }, /jwksRefreshMs must be a whole number ≥ 1/],
    [{ unsecured: true, jwksRetryBackoffMaxMs: 1.5 }, /jwksRetryBackoffMaxMs must be a whole number ≥ 1/],
    [{ unsecured: true, subClaimName: '' }, /subClaimName must not be empty/],
    [{ unsecured: true, expectedAudience: [] }, /expectedAudience must list at least one audience/],
    [{ jwksUrl: 'ftp://idp.example/jwks' }, /must be https:, http: or file:/],
  ];
  for (const [config, reason] of bad) assert.throws(() => OAuthBearerValidator.fromConfig(config), reason, JSON.stringify(config));
});

test('a key set in a file is read again once it changes: a new key is taken, a removed one refused; an unreadable file fails the load', async () => {
  await withTempDir(async (dir) => {
    const [first, second] = await Promise.all([issuer('first'), issuer('second')]);
    const path = join(dir, 'jwks.json');
    await writeFile(path, JSON.stringify(keySet(first)));
    const validator = OAuthBearerValidator.fromConfig({ jwksUrl: pathToFileURL(path).href });
    await validator.load();
    const claims = { sub: 'alice', exp: epochSeconds(600) };
    const [byFirst, bySecond] = await Promise.all([first.sign(claims), second.sign(claims)]);
    assert.equal((await validator.validate(byFirst)).principal, 'alice');
    assert.match((await refusal(validator, bySecond))!, /no applicable key found/);
    await writeFile(path, JSON.stringify(keySet(second)) + '\n');
    await sleep(1100); // the file is looked at once a second at most
    assert.equal((await validator.validate(bySecond)).principal, 'alice');
    assert.match((await refusal(validator, byFirst))!, /no applicable key found/);
    await writeFile(path, '{"keys": 1}');
    await assert.rejects(validator.load(), /is not a JSON Web Key Set: it needs a "keys" array/);
    await unlink(path);
    await assert.rejects(validator.load(), /ENOENT/);
    await sleep(1100);
    assert.match((await refusal(validator, bySecond))!, /the issuer's keys could not be read: .*ENOENT/);
  });
});

test('a key set behind an http URL is fetched once, and again for a token naming a key it lacks (at most once per back-off); a server down refuses tokens with that reason', async () => {
  const [first, second] = await Promise.all([issuer('first'), issuer('second')]);
  let served = keySet(first);
  let fetches = 0;
  const server: Server = createServer((_req, res) => {
    fetches++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(served));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  try {
    const validator = OAuthBearerValidator.fromConfig({ jwksUrl: url, jwksRetryBackoffMaxMs: 300 });
    await validator.load();
    const claims = { sub: 'alice', exp: epochSeconds(600) };
    for (let i = 0; i < 3; i++) assert.equal((await validator.validate(await first.sign(claims))).principal, 'alice');
    assert.equal(fetches, 1);
    // the issuer rotates its keys: the first token naming the new key, past the back-off, fetches them again
    served = keySet(first, second);
    await sleep(350);
    assert.equal((await validator.validate(await second.sign(claims))).principal, 'alice');
    assert.equal(fetches, 2);
    // an unknown key within the back-off does not fetch again
    assert.match((await refusal(validator, await first.sign(claims, { kid: 'third' })))!, /no applicable key found/);
    assert.equal(fetches, 2);
  } finally {
    server.close();
  }
  const down = OAuthBearerValidator.fromConfig({ jwksUrl: url });
  await assert.rejects(down.load());
  assert.match((await refusal(down, await first.sign({ sub: 'alice', exp: epochSeconds(60) })))!, /^the issuer's keys could not be read/);
});
