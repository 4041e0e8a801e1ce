using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Contract;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.V1;
using DomainRule = TaskBudgets.Governance.Budgeting.TierRule;
using QuotaMetric = TaskBudgets.Governance.Budgeting.QuotaMetric;
using QuotaScope = TaskBudgets.Governance.Budgeting.QuotaScope;

namespace TaskBudgets.Governance.Tests.Api;

/// <summary>
/// Each reason of a grant, code and text, exactly as GetBudget answers it: people read these texts
/// and tools log them, so a change to one should be a decision, not an accident.
/// </summary>
public sealed class ReasonTextTests
{
    private static readonly DomainRule Research = new()
    {
        TaskType = "research",
        MinReasoningTokens = 1000,
        DefaultReasoningTokens = 4000,
        MaxReasoningTokens = 16000,
        PreliminaryFraction = 0.25,
        SoftLimitThreshold = 0.8,
    };

    private static readonly QuotaReservation Daily = new(
        new QuotaDefinition { Id = "acme-day", OrgId = "acme", Scope = QuotaScope.Org, Metric = QuotaMetric.ReasoningTokens, Window = WindowKind.Day, Limit = 100_000 },
        string.Empty,
        DateTimeOffset.UnixEpoch,
        DateTimeOffset.UnixEpoch.AddDays(1),
        1000,
        5000);

    private static (ReasonCode Code, string Text)[] Reasons(BudgetDecision decision, DomainRule rule, params QuotaReservation[] quotas) =>
        [.. ProtoMapping.ToProto(new IssuedGrant("g", DateTimeOffset.UnixEpoch, decision, default, "standard", rule, 1, quotas), replayed: false)
            .Reasons.Select(r => (r.Code, r.Text))];

    [Fact]
    public void A_static_rule_explains_every_step_in_order()
    {
        var decision = new BudgetDecision
        {
            Reasons = BudgetReasons.TierRule | BudgetReasons.Complexity | BudgetReasons.LongInput | BudgetReasons.PreliminaryPhase
                | BudgetReasons.DeepPhase | BudgetReasons.Priority | BudgetReasons.Escalated | BudgetReasons.ClampedToRule
                | BudgetReasons.ProviderMinimum | BudgetReasons.SoftLimit | BudgetReasons.QuotaCap | BudgetReasons.TaskBudget,
            EscalationMultiplier = 2.0,
            Utilisation = 0.9,
            LimitingQuota = 0,
            TaskBudgetTokens = 5000,
        };

        Assert.Equal(
            [
                (ReasonCode.TierRule, "tier 'standard' rule 'research': 1000..16000 reasoning tokens, default 4000"),
                (ReasonCode.Complexity, "the complexity hint placed the budget between the rule's min and max"),
                (ReasonCode.LongInput, "a long input (over 16384 tokens) raised the budget"),
                (ReasonCode.PreliminaryPhase, "preliminary phase: 25 % of the budget, low effort"),
                (ReasonCode.DeepPhase, "deep phase: the rule's maximum budget"),
                (ReasonCode.Priority, "the call's priority scaled the budget"),
                (ReasonCode.Escalated, "retry after a truncated attempt: budget x2, up to the rule's max 16000"),
                (ReasonCode.ClampedToRule, "the budget was clamped to the rule's (or the model's) bounds"),
                (ReasonCode.ProviderMinimum, "raised to the model's minimum thinking budget"),
                (ReasonCode.SoftLimit, "a quota is 90 % used, past the soft threshold 80 %: the budget shrinks toward the rule's min"),
                (ReasonCode.QuotaCap, "capped by what quota 'acme-day' has left"),
                (ReasonCode.TaskBudget, "the task has 5000 tokens of its budget left"),
            ],
            Reasons(decision, Research, Daily));
    }

    [Fact]
    public void An_adaptive_default_rule_names_its_calibration()
    {
        var calibration = new CalibratedBudget(250.4, 3000, 6000, 12000, 16000, 2.0, 0.5, true, 0.02, false);
        var decision = new BudgetDecision
        {
            Reasons = BudgetReasons.DefaultRule | BudgetReasons.Adaptive | BudgetReasons.Complexity | BudgetReasons.Escalated,
            Calibration = calibration,
            EscalationMultiplier = 1.5,
        };
        var star = Research with { TaskType = DomainRule.DefaultTaskType };

        Assert.Equal(
            [
                (ReasonCode.DefaultRule, "tier 'standard' has no rule for this task type; its '*' rule applies (1000..16000 reasoning tokens, default 4000)"),
                (ReasonCode.Adaptive, "adaptive: calibrated on 250 samples of tier 'standard' '*' calls (min_samples 200): base 3000 reasoning tokens, the tier's share of its 2% truncation target"),
                (ReasonCode.Complexity, "the complexity hint moved the calibrated base by its learned effect (x1.22 per +0.1)"),
                (ReasonCode.Escalated, "retry after a truncated attempt: what calls truncated at the previous budget went on to need (x1.5), up to the rule's max 16000"),
            ],
            Reasons(decision, star));
        Assert.Contains(
            (ReasonCode.Adaptive, "adaptive: calibrated on 250 samples of this org's '*' calls (min_samples 200): base 3000 reasoning tokens, the tier's share of its 2% truncation target"),
            Reasons(decision with { Calibration = calibration with { OrgSpecific = true } }, star));
    }

    [Fact]
    public void A_denial_without_a_known_quota_says_a_quota()
    {
        var decision = new BudgetDecision { Denied = true, Reasons = BudgetReasons.TierRule | BudgetReasons.QuotaCap, LimitingQuota = -1 };

        Assert.Equal((ReasonCode.QuotaCap, "capped by what quota 'a quota' has left"), Reasons(decision, Research, Daily)[^1]);
        Assert.Equal((ReasonCode.QuotaCap, "capped by what quota 'a quota' has left"), Reasons(decision with { LimitingQuota = 3 }, Research, Daily)[^1]);
    }
}
