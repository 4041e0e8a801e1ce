using System.Text.Json;
using System.Text.Json.Serialization;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Grants;

/// <summary>
/// A settlement's quotas as its row stores them. Generated at build time: every ReportUsage writes
/// one, and the reflection-based serializer cost a tenth of ReportUsage's CPU.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(QuotaSettled[]))]
[JsonSerializable(typeof(IReadOnlyList<QuotaSettled>))]
internal sealed partial class SettledQuotasJson : JsonSerializerContext;
