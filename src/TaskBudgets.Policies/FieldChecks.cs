using System.Globalization;
using System.Text.RegularExpressions;

namespace TaskBudgets.Policies;

/// <summary>The checks of single fields; each adds "field: problem" to the errors.</summary>
internal static partial class FieldChecks
{
    public static void Name(ICollection<string> errors, string field, string value)
    {
        if (!NamePattern().IsMatch(value))
        {
            errors.Add($"{field}: must be 1..128 characters of letters, digits and . _ : - (got '{value}')");
        }
    }

    public static void Range(ICollection<string> errors, string field, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{field}: must be within {min}..{max}, not {value}"));
        }
    }

    public static void Fraction(ICollection<string> errors, string field, double value)
    {
        if (!(value >= 0.0 && value <= 1.0))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{field}: must be within 0..1, not {value}"));
        }
    }

    /// <summary>A price in USD per million tokens as micro-USD per million; 0 when out of range.</summary>
    public static long Price(ICollection<string> errors, string field, decimal usdPerMillion)
    {
        if (usdPerMillion is < 0 or > 1_000_000)
        {
            errors.Add($"{field}: must be within 0..1000000 USD per million tokens");
            return 0;
        }

        return (long)decimal.Round(usdPerMillion * 1_000_000m, MidpointRounding.AwayFromZero);
    }

    public static string UnknownEffort(string field, string given) => $"{field}: must be low, medium, high or max, not '{given}'";

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex NamePattern();
}
