// Nothing account-specific or secret in the code: no account ids, ARNs with account numbers, real
// e-mail addresses or keys. Deployments get them from stage parameters.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const files = execFileSync('git', ['ls-files', 'services', 'shared', 'glue-scripts', 'serverless.yml', 'events', '.ci'], { encoding: 'utf8' })
  .trim()
  .split('\n');

test.each([
  ['an AWS account id in an ARN', /arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(?!000000000000|111122223333)\d{12}:/],
  ['an access key id', /\b(AKIA|ASIA)[A-Z0-9]{16}\b/],
  ['a secret-looking assignment', /(secret|password|aws_secret_access_key)\s*[:=]\s*['"][^'"]{8,}['"]/i],
  ['an e-mail address other than example.com/org placeholders', /[A-Za-z0-9._%+-]+@(?!example\.(com|org)\b)[A-Za-z0-9.-]+\.[a-z]{2,}/],
])('no %s', (_what, pattern) => {
  const hits = files.filter((f) => pattern.test(readFileSync(f, 'utf8')));
  expect(hits).toEqual([]);
});

test('the files were found', () => expect(files.length).toBeGreaterThan(40));
