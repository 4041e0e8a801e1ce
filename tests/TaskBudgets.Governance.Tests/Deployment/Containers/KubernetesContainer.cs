using System.Text;
using System.Text.Json.Nodes;
using TaskBudgets.Governance.Tests.Deployment.Manifests;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment.Containers;

/// <summary>
/// A container of a rendered Deployment or Job as Kubernetes would start it: its environment with
/// secretKeyRef/configMapKeyRef resolved from the Secrets and ConfigMaps the chart rendered, its
/// ConfigMap volumes written out as files, its emptyDir and PersistentVolumeClaim volumes as
/// empty folders under <paramref name="scratch"/>.
/// </summary>
public static class KubernetesContainer
{
    public static LocalContainer From(RenderedChart chart, JsonObject workload, string scratch)
    {
        var pod = workload["spec"]!["template"]!["spec"]!;
        var container = Objects(pod["containers"]).Single();
        Assert.Null(container["command"]); // The image's entrypoint runs; args are its arguments.
        Assert.Null(container["envFrom"]);

        var environment = new Dictionary<string, string>();
        foreach (var variable in Objects(container["env"]))
        {
            var value = Resolve(chart, variable);
            if (value is not null)
            {
                environment[Text(variable["name"])!] = value;
            }
        }

        var volumes = Objects(pod["volumes"]).ToDictionary(v => Text(v["name"])!);
        var mounts = new Dictionary<string, string>();
        foreach (var mount in Objects(container["volumeMounts"]))
        {
            var name = Text(mount["name"])!;
            var folder = Path.Combine(scratch, name);
            Directory.CreateDirectory(folder);
            WriteVolume(chart, volumes[name], folder);
            mounts[Text(mount["mountPath"])!] = folder;
        }

        var ports = Objects(container["ports"]).ToDictionary(p => Text(p["name"])!, p => (int)p["containerPort"]!);
        return new LocalContainer(
            LocalContainer.BuiltImage,
            [.. (container["args"] as JsonArray ?? []).Select(a => Text(a)!)],
            environment,
            mounts,
            ports.GetValueOrDefault("grpc"),
            ports.GetValueOrDefault("http"));
    }

    private static string? Resolve(RenderedChart chart, JsonObject variable)
    {
        if (variable["valueFrom"] is not JsonObject from)
        {
            return Text(variable["value"]) ?? "";
        }

        var (kind, reference) = from["secretKeyRef"] is JsonObject secret ? ("Secret", secret) : ("ConfigMap", (JsonObject)from["configMapKeyRef"]!);
        var source = chart.OfKind(kind).SingleOrDefault(m => Text(m["metadata"]?["name"]) == Text(reference["name"]));
        var data = Data(source, kind);
        var key = Text(reference["key"])!;
        if (data.TryGetValue(key, out var value))
        {
            return value;
        }

        // Kubernetes starts a pod without an optional key; a required one it cannot find keeps the pod from starting.
        return Text(reference["optional"]) == "true"
            ? null
            : throw new Xunit.Sdk.XunitException($"Env {Text(variable["name"])}: {kind} {Text(reference["name"])} has no key {key}, so the pod would not start.");
    }

    private static Dictionary<string, string> Data(JsonObject? source, string kind)
    {
        if (source is null)
        {
            return [];
        }

        var data = (source["data"] as JsonObject ?? []).ToDictionary(d => d.Key, d => Text(d.Value) ?? "");
        return kind == "Secret" ? data.ToDictionary(d => d.Key, d => Encoding.UTF8.GetString(Convert.FromBase64String(d.Value))) : data;
    }

    private static void WriteVolume(RenderedChart chart, JsonObject volume, string folder)
    {
        if (volume["emptyDir"] is not null || volume["persistentVolumeClaim"] is not null)
        {
            return;
        }

        var (kind, source) = volume["configMap"] is JsonObject configMap ? ("ConfigMap", configMap) : ("Secret", (JsonObject)volume["secret"]!);
        var name = Text(source["name"] ?? source["secretName"])!;
        var data = Data(chart.Named(kind, name), kind);
        var items = Objects(source["items"]).Select(i => (Key: Text(i["key"])!, Path: Text(i["path"])!)).ToList();
        foreach (var (key, path) in items.Count > 0 ? items : data.Keys.Select(k => (k, k)))
        {
            File.WriteAllText(Path.Combine(folder, path), data[key]);
        }
    }
}
