"""TaskBudgets Governance from Python: ask for a budget, "call a model", report what it used.

    ./generate.sh && /usr/bin/python3 client.py

TASKBUDGETS_ADDRESS  host:port of the gRPC port (default localhost:8080)
TASKBUDGETS_API_KEY  optional key, sent as "authorization: Bearer <key>"
TASKBUDGETS_ORG      org to ask for (default "demo", the sample policy's org)
TASKBUDGETS_CA_FILE  PEM CA bundle to trust: TLS instead of plaintext (the server's Server:Tls)
TASKBUDGETS_CERT_FILE, TASKBUDGETS_KEY_FILE  PEM client certificate and key, for mTLS
"""

import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402
from taskbudgets.v1 import budget_pb2, budget_service_pb2, budget_service_pb2_grpc  # noqa: E402


def call_model(budget, input_tokens):
    """Stands in for the real model call: uses part of the budget, as a call that ends normally does."""
    reasoning = int(budget.reasoning_tokens * 0.6)
    output = min(budget.max_output_tokens, reasoning + 350)
    return budget_pb2.UsageTokens(input_tokens=input_tokens, output_tokens=output, reasoning_tokens=reasoning)


def read(variable):
    """The bytes of the file an environment variable names, or None."""
    path = os.environ.get(variable)
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def open_channel(address):
    """TLS when a CA file is given (with a client certificate for mTLS), else plaintext."""
    if not os.environ.get("TASKBUDGETS_CA_FILE"):
        return grpc.insecure_channel(address)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read("TASKBUDGETS_CA_FILE"),
        private_key=read("TASKBUDGETS_KEY_FILE"),
        certificate_chain=read("TASKBUDGETS_CERT_FILE"),
    )
    return grpc.secure_channel(address, credentials)


def main():
    address = os.environ.get("TASKBUDGETS_ADDRESS", "localhost:8080")
    org = os.environ.get("TASKBUDGETS_ORG", "demo")
    key = os.environ.get("TASKBUDGETS_API_KEY")
    metadata = [("authorization", f"Bearer {key}")] if key else []

    with open_channel(address) as channel:
        budgets = budget_service_pb2_grpc.BudgetServiceStub(channel)
        input_tokens = 1200

        grant = budgets.GetBudget(
            budget_service_pb2.GetBudgetRequest(
                org_id=org,
                task_type="support",
                model="claude-sonnet-4-5",
                features=budget_pb2.TaskFeatures(complexity=0.5, estimated_input_tokens=input_tokens),
                request_id=str(uuid.uuid4()),  # a retry with the same id gets the same grant
            ),
            metadata=metadata,
            timeout=10,
        )
        b = grant.budget
        print(
            f"grant: {budget_pb2.Decision.Name(grant.decision)} reasoning_tokens={b.reasoning_tokens} "
            f"max_output_tokens={b.max_output_tokens} effort={budget_pb2.Effort.Name(b.effort)} "
            f"expires_at={grant.expires_at.ToJsonString()}"
        )
        family = grant.provider_parameters.WhichOneof("family")
        params = {f.name: v for f, v in getattr(grant.provider_parameters, family).ListFields()}
        print(f"  {family} parameters: {params}")
        for reason in grant.reasons:
            print(f"  reason {budget_pb2.ReasonCode.Name(reason.code)}: {reason.text}")

        usage = call_model(grant.budget, input_tokens)

        settlement = budgets.ReportUsage(
            budget_service_pb2.ReportUsageRequest(
                grant_id=grant.grant_id,
                usage=usage,
                stop_reason=budget_pb2.STOP_REASON_END_TURN,
                outcome=budget_service_pb2.OUTCOME_SUCCESS,
                latency=duration_pb2.Duration(seconds=2, nanos=500_000_000),
            ),
            metadata=metadata,
            timeout=10,
        )
        print(
            f"settlement: cost_micros={settlement.cost_micros} duplicate={settlement.duplicate} "
            f"late={settlement.late} over_grant={settlement.over_grant} truncated={settlement.truncated}"
        )
        for q in settlement.quotas:
            print(f"  quota {q.quota_id}: used {q.used} of {q.reserved} reserved")


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        # Rich details (ErrorInfo, QuotaFailure, RetryInfo) travel in the grpc-status-details-bin trailer.
        print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
        sys.exit(1)
