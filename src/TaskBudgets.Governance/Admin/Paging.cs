using System.Buffers.Text;
using System.Text;

namespace TaskBudgets.Governance.Admin;

/// <summary>
/// Keyset paging: a page token is the opaque key of the last item served, so pages stay stable
/// while items are added or removed.
/// </summary>
public readonly record struct Paging(int Size, string? After)
{
    public const int DefaultSize = 50;
    public const int MaxSize = 1000;
    private const string Version = "p1:";

    /// <summary>Reads page_size (0: default, capped at the maximum) and page_token; bad ones are INVALID_ARGUMENT.</summary>
    public static Paging Read(int pageSize, string pageToken)
    {
        ArgumentNullException.ThrowIfNull(pageToken);
        var problems = new List<FieldProblem>();
        if (pageSize < 0)
        {
            problems.Add(new FieldProblem("page_size", "must be 0 (the default) or more"));
        }

        string? after = null;
        if (pageToken.Length > 0)
        {
            try
            {
                var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(pageToken));
                after = text.StartsWith(Version, StringComparison.Ordinal) ? text[Version.Length..] : null;
            }
            catch (FormatException)
            {
            }

            if (after is null)
            {
                problems.Add(new FieldProblem("page_token", "is not a page token this service gave out"));
            }
        }

        if (problems.Count > 0)
        {
            throw GovernanceException.Invalid(problems);
        }

        return new Paging(pageSize == 0 ? DefaultSize : Math.Min(pageSize, MaxSize), after);
    }

    /// <summary>
    /// Trims <paramref name="fetched"/> (size + 1 items asked for) to the page and returns the next page's
    /// token, or empty when this page is the last.
    /// </summary>
    public static string Next<T>(List<T> fetched, int size, Func<T, string> keyOf)
    {
        ArgumentNullException.ThrowIfNull(fetched);
        ArgumentNullException.ThrowIfNull(keyOf);
        if (fetched.Count <= size)
        {
            return string.Empty;
        }

        fetched.RemoveAt(fetched.Count - 1);
        return Base64Url.EncodeToString(Encoding.UTF8.GetBytes(Version + keyOf(fetched[^1])));
    }
}
