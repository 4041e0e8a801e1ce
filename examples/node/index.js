// TaskBudgets Governance from Node.js: ask for a budget, "call a model", report what it used.
//
//   npm ci && node index.js
//
// TASKBUDGETS_ADDRESS  host:port of the gRPC port (default localhost:8080)
// TASKBUDGETS_API_KEY  optional key, sent as "authorization: Bearer <key>"
// TASKBUDGETS_ORG      org to ask for (default "demo", the sample policy's org)
// TASKBUDGETS_CA_FILE  PEM CA bundle to trust: TLS instead of plaintext (the server's Server:Tls)
// TASKBUDGETS_CERT_FILE, TASKBUDGETS_KEY_FILE  PEM client certificate and key, for mTLS
'use strict';

const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const protos = path.resolve(__dirname, '../../protos');
const definition = protoLoader.loadSync('taskbudgets/v1/budget_service.proto', {
  includeDirs: [protos],
  keepCase: true, // field names as in the .proto: org_id, max_output_tokens, ...
  longs: Number, // token counts and micro-dollars fit a double exactly
  enums: String, // "DECISION_GRANTED", not 1
  defaults: true,
  oneofs: true, // provider_parameters.family names the set member
});
const { BudgetService } = grpc.loadPackageDefinition(definition).taskbudgets.v1;

const address = process.env.TASKBUDGETS_ADDRESS || 'localhost:8080';
const org = process.env.TASKBUDGETS_ORG || 'demo';
const fs = require('node:fs');
const read = (name) => (process.env[name] ? fs.readFileSync(process.env[name]) : null);
const credentials = process.env.TASKBUDGETS_CA_FILE
  ? grpc.credentials.createSsl(read('TASKBUDGETS_CA_FILE'), read('TASKBUDGETS_KEY_FILE'), read('TASKBUDGETS_CERT_FILE'))
  : grpc.credentials.createInsecure();
const budgets = new BudgetService(address, credentials);

const metadata = new grpc.Metadata();
if (process.env.TASKBUDGETS_API_KEY) {
  metadata.set('authorization', `Bearer ${process.env.TASKBUDGETS_API_KEY}`);
}

// One unary call as a promise, with a 10 s deadline.
function call(method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 10_000);
    budgets[method](request, metadata, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

// Stands in for the real model call: uses part of the budget, as a call that ends normally does.
function callModel(budget, inputTokens) {
  const reasoning = Math.floor(budget.reasoning_tokens * 0.6);
  const output = Math.min(budget.max_output_tokens, reasoning + 350);
  return { input_tokens: inputTokens, output_tokens: output, reasoning_tokens: reasoning };
}

async function main() {
  const inputTokens = 1200;
  const grant = await call('GetBudget', {
    org_id: org,
    task_type: 'support',
    model: 'claude-sonnet-4-5',
    features: { complexity: 0.5, estimated_input_tokens: inputTokens },
    request_id: crypto.randomUUID(), // a retry with the same id gets the same grant
  });
  const family = grant.provider_parameters.family;
  console.log(`grant: ${grant.decision} reasoning_tokens=${grant.budget.reasoning_tokens} ` +
    `max_output_tokens=${grant.budget.max_output_tokens} effort=${grant.budget.effort} expires_at=${toIso(grant.expires_at)}`);
  console.log(`  ${family} parameters: ${JSON.stringify(grant.provider_parameters[family])}`);
  for (const reason of grant.reasons) {
    console.log(`  reason ${reason.code}: ${reason.text}`);
  }

  const usage = callModel(grant.budget, inputTokens);

  const settlement = await call('ReportUsage', {
    grant_id: grant.grant_id,
    usage,
    stop_reason: 'STOP_REASON_END_TURN',
    outcome: 'OUTCOME_SUCCESS',
    latency: { seconds: 2, nanos: 500_000_000 },
  });
  console.log(`settlement: cost_micros=${settlement.cost_micros} duplicate=${settlement.duplicate} ` +
    `late=${settlement.late} over_grant=${settlement.over_grant} truncated=${settlement.truncated}`);
  for (const q of settlement.quotas) {
    console.log(`  quota ${q.quota_id}: used ${q.used} of ${q.reserved} reserved`);
  }
}

function toIso(timestamp) {
  return new Date(timestamp.seconds * 1000 + Math.floor(timestamp.nanos / 1e6)).toISOString();
}

main()
  .catch((err) => {
    // Rich details (ErrorInfo, QuotaFailure, RetryInfo) travel in the grpc-status-details-bin trailer.
    console.error(`error: ${grpc.status[err.code] ?? err.code}: ${err.details ?? err.message}`);
    process.exitCode = 1;
  })
  .finally(() => budgets.close());
