using System.Text.Json.Nodes;

namespace TaskBudgets.Gateway.Providers;

/// <summary>The arithmetic of "never raise what the caller asked for": lower a limit, lower an effort.</summary>
internal static class Caps
{
    /// <summary>The limit to send: the grant's when the caller gave none or raising is allowed, else the smaller.</summary>
    public static long Limit(long? asked, long granted, bool allowRaise) =>
        asked is not { } a || allowRaise ? granted : Math.Min(a, granted);

    /// <summary>
    /// The effort to send on a scale of levels (lowest first): the grant's when raising is allowed,
    /// else the lower of the two; a word not on the scale is left as the caller wrote it.
    /// </summary>
    public static string Effort(string asked, string granted, IReadOnlyList<string> scale, bool allowRaise)
    {
        var a = IndexOf(scale, asked);
        var g = IndexOf(scale, granted);
        if (g < 0)
        {
            return asked;
        }

        return allowRaise || (a >= 0 && g < a) ? granted : asked;
    }

    public static long? Long(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<long>(out var n) ? n
        : node is JsonValue d && d.TryGetValue<double>(out var x) && x == Math.Floor(x) ? (long)x
        : null;

    public static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;

    /// <summary>The object under <paramref name="name"/>, created when missing (or not an object).</summary>
    public static JsonObject Object(JsonObject parent, string name)
    {
        if (parent[name] is JsonObject existing)
        {
            return existing;
        }

        var created = new JsonObject();
        parent[name] = created;
        return created;
    }

    private static int IndexOf(IReadOnlyList<string> scale, string word)
    {
        for (var i = 0; i < scale.Count; i++)
        {
            if (string.Equals(scale[i], word, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }
}
