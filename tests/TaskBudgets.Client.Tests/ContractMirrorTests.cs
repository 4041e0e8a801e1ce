using V1 = TaskBudgets.V1;

namespace TaskBudgets.Client.Tests;

/// <summary>
/// The SDK's enums carry the contract's numbers (the mapping casts them), so each value must name the
/// same thing as the proto value with its number, and every proto value must have its SDK twin.
/// </summary>
public sealed class ContractMirrorTests
{
    private static void Mirrors<TSdk, TProto>(params TSdk[] sdkOnly)
        where TSdk : struct, Enum
        where TProto : struct, Enum
    {
        foreach (var value in Enum.GetValues<TSdk>().Except(sdkOnly))
        {
            var number = Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);
            var proto = (TProto)Enum.ToObject(typeof(TProto), number);
            Assert.True(Enum.IsDefined(proto), $"{typeof(TSdk).Name}.{value} ({number}) is not in {typeof(TProto).Name}");
            Assert.Equal(value.ToString(), proto.ToString());
        }

        foreach (var proto in Enum.GetValues<TProto>())
        {
            var number = Convert.ToInt32(proto, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Enum.IsDefined(typeof(TSdk), number), $"{typeof(TProto).Name}.{proto} ({number}) has no {typeof(TSdk).Name} value");
        }
    }

    [Fact]
    public void Stop_reasons() => Mirrors<StopReason, V1.StopReason>();

    [Fact]
    public void Efforts() => Mirrors<Effort, V1.Effort>();

    [Fact]
    public void Reason_codes() => Mirrors<BudgetReasonCode, V1.ReasonCode>(BudgetReasonCode.Fallback);

    [Fact]
    public void Decisions() => Mirrors<BudgetDecision, V1.Decision>(BudgetDecision.Fallback);

    [Fact]
    public void Quota_metrics_windows_and_scopes()
    {
        Mirrors<QuotaMetric, V1.QuotaMetric>();
        Mirrors<QuotaWindow, V1.QuotaWindow>();
        Mirrors<QuotaScope, V1.QuotaScope>();
    }
}
