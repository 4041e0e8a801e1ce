using System.Globalization;
using System.Security;
using System.Text;

namespace TaskBudgets.Workload;

/// <summary>
/// A hand-written SVG: per task type, the budget-versus-truncation curve of its needs (budget on a
/// log x axis, the share of calls that would be truncated on y), with the fixed budget and the
/// adaptive budget (mean granted in the measured calls) marked at their measured truncation rates.
/// </summary>
internal static class TradeoffChart
{
    private const int Columns = 3;
    private const double PanelWidth = 330;
    private const double PanelHeight = 230;
    private const double Left = 52;
    private const double Right = 14;
    private const double Top = 30;
    private const double Bottom = 40;
    private const double Header = 64;

    /// <summary>The y axis is logarithmic from here to 100%: heavy tails show as long slopes, and the target region is readable.</summary>
    private const double MinRate = 0.001;

    public static string Svg(WorkloadFile workload, OfflineNeeds needs, long fixedBudget, PhaseMetrics fixedPhase, PhaseMetrics? adaptivePhase)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(needs);
        ArgumentNullException.ThrowIfNull(fixedPhase);
        var types = workload.TaskTypes.Count;
        var rows = (types + Columns - 1) / Columns;
        var width = Columns * PanelWidth;
        var height = Header + (rows * PanelHeight);

        // One x range for every panel, in whole decades, so the task types compare at a glance.
        var low = Math.Floor(Math.Log10(Math.Max(1, Enumerable.Range(0, types).Min(t => needs.Quantile(t, 0.01)))));
        var high = Math.Ceiling(Math.Log10(Math.Max(fixedBudget, Enumerable.Range(0, types).Max(t => Math.Max(needs.Quantile(t, 0.999), adaptivePhase?.ByType[t].ReservedPerCall ?? 0)))));
        high = Math.Max(high, low + 1);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="{width}" height="{height}" fill="white"/>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="12" y="20" font-size="14" font-weight="bold">Reasoning budget vs truncation rate per task type (target {Pct(workload.TargetTruncationRate)})</text>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="12" y="38">Curve: share of calls whose need exceeds the budget (log scales; 0 is drawn at 0.1%). Red: best single fixed budget ({fixedBudget:N0}), measured.</text>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="12" y="54">{(adaptivePhase is null ? "No adaptive phase was run." : $"Blue: adaptive budget (mean granted over the last {adaptivePhase.MeasuredCalls:N0} calls), measured.")}</text>""").AppendLine();

        for (var t = 0; t < types; t++)
        {
            var x0 = t % Columns * PanelWidth;
            var y0 = Header + (t / Columns * PanelHeight);
            Panel(svg, workload.TaskTypes[t].Name, t, x0, y0, low, high, workload.TargetTruncationRate, needs, fixedBudget, fixedPhase.ByType[t], adaptivePhase?.ByType[t]);
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static void Panel(StringBuilder svg, string name, int type, double x0, double y0, double low, double high, double target, OfflineNeeds needs, long fixedBudget, TypeMetrics fixedMeasured, TypeMetrics? adaptiveMeasured)
    {
        var plotW = PanelWidth - Left - Right;
        var plotH = PanelHeight - Top - Bottom;
        double X(double budget) => x0 + Left + ((Math.Log10(Math.Max(budget, 1)) - low) / (high - low) * plotW);
        double Y(double rate) => y0 + Top + plotH - ((Math.Log10(Math.Clamp(rate, MinRate, 1.0)) - Math.Log10(MinRate)) / -Math.Log10(MinRate) * plotH);

        svg.Append(CultureInfo.InvariantCulture, $"""<g><text x="{x0 + Left}" y="{y0 + 18}" font-size="12" font-weight="bold">{Escape(name)} (median need {needs.Median(type):N0})</text>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{x0 + Left}" y="{y0 + Top}" width="{plotW}" height="{plotH}" fill="none" stroke="#999"/>""").AppendLine();

        for (var decade = low; decade <= high; decade++)
        {
            var x = X(Math.Pow(10, decade));
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{x:0.#}" y1="{y0 + Top}" x2="{x:0.#}" y2="{y0 + Top + plotH}" stroke="#eee"/><text x="{x:0.#}" y="{y0 + Top + plotH + 14}" text-anchor="middle">{Tokens(Math.Pow(10, decade))}</text>""").AppendLine();
        }

        foreach (var rate in RateTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{x0 + Left}" y1="{Y(rate):0.#}" x2="{x0 + Left + plotW}" y2="{Y(rate):0.#}" stroke="#eee"/><text x="{x0 + Left - 4}" y="{Y(rate) + 4:0.#}" text-anchor="end">{Pct(rate)}</text>""").AppendLine();
        }

        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x0 + Left + (plotW / 2)}" y="{y0 + PanelHeight - 8}" text-anchor="middle" fill="#555">reasoning budget (tokens, log scale)</text>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{x0 + Left}" y1="{Y(target):0.#}" x2="{x0 + Left + plotW}" y2="{Y(target):0.#}" stroke="#2a2" stroke-dasharray="4 3"/>""").AppendLine();

        var points = new StringBuilder();
        const int Steps = 120;
        for (var i = 0; i <= Steps; i++)
        {
            var budget = Math.Pow(10, low + ((high - low) * i / Steps));
            points.Append(CultureInfo.InvariantCulture, $"{X(budget):0.#},{Y(needs.TruncationRate(type, (long)budget)):0.#} ");
        }

        svg.Append(CultureInfo.InvariantCulture, $"""<polyline points="{points.ToString().TrimEnd()}" fill="none" stroke="#333" stroke-width="1.5"/>""").AppendLine();

        var fx = X(fixedBudget);
        svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{fx:0.#}" y1="{y0 + Top}" x2="{fx:0.#}" y2="{y0 + Top + plotH}" stroke="#d22" stroke-dasharray="2 2"/>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<circle cx="{fx:0.#}" cy="{Y(fixedMeasured.TruncationRate):0.#}" r="4" fill="#d22"><title>fixed {fixedBudget:N0}: truncation {Pct(fixedMeasured.TruncationRate)}, efficiency {Pct(fixedMeasured.Efficiency)}</title></circle>""").AppendLine();
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x0 + PanelWidth - Right - 4}" y="{y0 + Top + 14}" text-anchor="end" fill="#d22">fixed: {Pct(fixedMeasured.TruncationRate)} trunc, {Pct(fixedMeasured.Efficiency)} eff</text>""").AppendLine();
        if (adaptiveMeasured is { Calls: > 0 })
        {
            var ax = X(adaptiveMeasured.ReservedPerCall);
            var ay = Y(adaptiveMeasured.TruncationRate);
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{ax - 4:0.#}" y="{ay - 4:0.#}" width="8" height="8" fill="#22d"><title>adaptive {adaptiveMeasured.ReservedPerCall:N0}: truncation {Pct(adaptiveMeasured.TruncationRate)}, efficiency {Pct(adaptiveMeasured.Efficiency)}</title></rect>""").AppendLine();
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x0 + PanelWidth - Right - 4}" y="{y0 + Top + 28}" text-anchor="end" fill="#22d">adaptive: {Pct(adaptiveMeasured.TruncationRate)} trunc, {Pct(adaptiveMeasured.Efficiency)} eff</text>""").AppendLine();
        }

        svg.AppendLine("</g>");
    }

    private static readonly double[] RateTicks = [0.001, 0.01, 0.1, 1.0];

    private static string Tokens(double tokens) =>
        tokens >= 1e6 ? (tokens / 1e6).ToString("0.#", CultureInfo.InvariantCulture) + "M"
        : tokens >= 1e3 ? (tokens / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "k"
        : tokens.ToString("0", CultureInfo.InvariantCulture);

    private static string Pct(double fraction) => (fraction * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    private static string Escape(string text) => SecurityElement.Escape(text) ?? string.Empty;
}
