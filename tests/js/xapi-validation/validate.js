// Validate xAPI statements with Learning Locker's validator (conformance tested).
// stdin: a JSON array of statements; stdout: a JSON array with, per statement, the list
// of problems found (empty when the statement is valid).
'use strict';
const validate = require('@learninglocker/xapi-validation').default;

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const statements = JSON.parse(input);
  const report = statements.map((statement) => validate(statement).map((warning) => ({
    path: (warning.path || []).join('.'),
    message: warning.message || String(warning),
  })));
  process.stdout.write(JSON.stringify(report));
});
