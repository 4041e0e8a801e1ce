// TaskBudgets Governance from Go: ask for a budget, "call a model", report what it used.
//
//	./generate.sh && go run .        (module mode, online)
//	./run.sh                         (offline, with Debian's Go packages)
//
// TASKBUDGETS_ADDRESS  host:port of the gRPC port (default localhost:8080)
// TASKBUDGETS_API_KEY  optional key, sent as "authorization: Bearer <key>"
// TASKBUDGETS_ORG      org to ask for (default "demo", the sample policy's org)
// TASKBUDGETS_CA_FILE  PEM CA bundle to trust: TLS instead of plaintext (the server's Server:Tls)
// TASKBUDGETS_CERT_FILE, TASKBUDGETS_KEY_FILE  PEM client certificate and key, for mTLS
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	tb "example.com/taskbudgets/examples/go/gen/taskbudgets/v1"
)

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// callModel stands in for the real model call: it uses part of the budget, as a call that ends normally does.
func callModel(budget *tb.Budget, inputTokens int64) *tb.UsageTokens {
	reasoning := budget.GetReasoningTokens() * 6 / 10
	output := reasoning + 350
	if output > budget.GetMaxOutputTokens() {
		output = budget.GetMaxOutputTokens()
	}
	return &tb.UsageTokens{InputTokens: inputTokens, OutputTokens: output, ReasoningTokens: reasoning}
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// transport is TLS when a CA file is given (with a client certificate for mTLS), else plaintext.
func transport() (grpc.DialOption, error) {
	ca := os.Getenv("TASKBUDGETS_CA_FILE")
	if ca == "" {
		return grpc.WithInsecure(), nil
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", ca)
	}
	config := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert := os.Getenv("TASKBUDGETS_CERT_FILE"); cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, os.Getenv("TASKBUDGETS_KEY_FILE"))
		if err != nil {
			return nil, err
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(config)), nil
}

func run() error {
	security, err := transport()
	if err != nil {
		return err
	}
	conn, err := grpc.Dial(env("TASKBUDGETS_ADDRESS", "localhost:8080"), security)
	if err != nil {
		return err
	}
	defer conn.Close()
	budgets := tb.NewBudgetServiceClient(conn)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if key := os.Getenv("TASKBUDGETS_API_KEY"); key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}

	const inputTokens = 1200
	grant, err := budgets.GetBudget(ctx, &tb.GetBudgetRequest{
		OrgId:     env("TASKBUDGETS_ORG", "demo"),
		TaskType:  "support",
		Model:     "claude-sonnet-4-5",
		Features:  &tb.TaskFeatures{Complexity: proto.Float64(0.5), EstimatedInputTokens: inputTokens},
		RequestId: requestID(), // a retry with the same id gets the same grant
	})
	if err != nil {
		return err
	}
	b := grant.GetBudget()
	fmt.Printf("grant: %s reasoning_tokens=%d max_output_tokens=%d effort=%s expires_at=%s\n",
		grant.GetDecision(), b.GetReasoningTokens(), b.GetMaxOutputTokens(), b.GetEffort(),
		grant.GetExpiresAt().AsTime().Format(time.RFC3339Nano))
	params, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(grant.GetProviderParameters())
	fmt.Printf("  parameters: %s\n", params)
	for _, r := range grant.GetReasons() {
		fmt.Printf("  reason %s: %s\n", r.GetCode(), r.GetText())
	}

	usage := callModel(b, inputTokens)

	settlement, err := budgets.ReportUsage(ctx, &tb.ReportUsageRequest{
		GrantId:    grant.GetGrantId(),
		Usage:      usage,
		StopReason: tb.StopReason_STOP_REASON_END_TURN,
		Outcome:    tb.Outcome_OUTCOME_SUCCESS,
		Latency:    durationpb.New(2500 * time.Millisecond),
	})
	if err != nil {
		return err
	}
	fmt.Printf("settlement: cost_micros=%d duplicate=%t late=%t over_grant=%t truncated=%t\n",
		settlement.GetCostMicros(), settlement.GetDuplicate(), settlement.GetLate(),
		settlement.GetOverGrant(), settlement.GetTruncated())
	for _, q := range settlement.GetQuotas() {
		fmt.Printf("  quota %s: used %d of %d reserved\n", q.GetQuotaId(), q.GetUsed(), q.GetReserved())
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		// Rich details (ErrorInfo, QuotaFailure, RetryInfo) are in status.Convert(err).Details().
		s := status.Convert(err)
		fmt.Fprintf(os.Stderr, "error: %s: %s\n", s.Code(), s.Message())
		os.Exit(1)
	}
}
