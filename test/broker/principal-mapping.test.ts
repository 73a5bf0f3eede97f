// Kafka's ssl.principal.mapping.rules: rules tried in order against the whole distinguished name, replacements with
// groups and escapes, case changes, DEFAULT, no match refused, and the rules' syntax errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { principalMapper } from '../../src/broker/principal-mapping.js';

test('the first rule that matches the whole name gives the principal; DEFAULT keeps the name; none matching refuses it', () => {
  const map = principalMapper(
    'RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/, RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,\n RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, DEFAULT',
  );
  assert.equal(map('CN=kafka1,OU=ServiceUsers,O=Example'), 'kafka1');
  assert.equal(map('CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Cupertino,ST=CA,C=US'), 'duke@javasoft');
  assert.equal(map('OU=Ops,cn=admin.one,O=Example'), 'ADMIN.ONE');
  assert.equal(map('O=Example'), 'O=Example');
  const strict = principalMapper('RULE:CN=([a-z]+)/$1/');
  assert.equal(strict('CN=alice'), 'alice');
  assert.equal(strict('CN=alice,O=Example'), null, 'the pattern must match the whole name');
  assert.equal(strict('CN=Alice'), null);
});

test('escaped slashes and dollars in a rule, as Java reads them', () => {
  const map = principalMapper('RULE:^CN=([^\\/]+)\\/(.+)$/$1\\/$2\\$/');
  assert.equal(map('CN=team/alice'), 'team/alice$');
});

test('rules that cannot be read are refused with the reason', () => {
  assert.throws(() => principalMapper(''), /principal mapping rules cannot be empty/);
  assert.throws(() => principalMapper('RULE:^CN=(.*)$/$1'), /principal mapping rule 1: its replacement has no closing \//);
  assert.throws(() => principalMapper('DEFAULT, CN=alice'), /principal mapping rule 2 must be DEFAULT or RULE:pattern\/replacement\/\[L\|U\], got "CN=alice"/);
  assert.throws(() => principalMapper('RULE:^CN=($/x/'), /principal mapping rule 1: Invalid regular expression/);
  assert.throws(() => principalMapper('RULE:a/b/X'), /principal mapping rules are separated by commas; after rule 1 came "X"/);
  assert.throws(() => principalMapper('DEFAULT DEFAULT'), /principal mapping rules are separated by commas; after rule 1 came "DEFAULT"/);
});
