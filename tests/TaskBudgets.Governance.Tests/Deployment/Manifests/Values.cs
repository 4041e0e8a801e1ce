using System.Text.Json.Nodes;

namespace TaskBudgets.Governance.Tests.Deployment.Manifests;

/// <summary>Helm's merge of values files: maps merge, null deletes a key, anything else replaces.</summary>
public static class Values
{
    public static JsonObject Merge(JsonObject baseValues, JsonObject overrides)
    {
        var merged = (JsonObject)baseValues.DeepClone();
        foreach (var (key, value) in overrides)
        {
            if (value is null)
            {
                merged.Remove(key);
            }
            else if (value is JsonObject map && merged[key] is JsonObject existing)
            {
                merged[key] = Merge(existing, map);
            }
            else
            {
                merged[key] = value.DeepClone();
            }
        }

        return merged;
    }
}
