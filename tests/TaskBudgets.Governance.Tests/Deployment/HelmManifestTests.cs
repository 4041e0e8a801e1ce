using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TaskBudgets.Governance.Tests.Deployment.Manifests;
using TaskBudgets.Governance.Tests.Deployment.Tools;
using TaskBudgets.Governance.Tests.Infrastructure;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>
/// What the chart renders for each value set, where no cluster is needed to know it is wrong:
/// which objects exist, how they find each other, how the pods are locked down. That the rendered
/// configuration works is <see cref="HelmInstallTests"/>.
/// </summary>
public sealed class HelmManifestTests
{
    [Theory]
    [MemberData(nameof(HelmChart.ValueSetsAndDefaults), MemberType = typeof(HelmChart))]
    public async Task Renders_exactly_the_objects_its_values_ask_for(string valueSet)
    {
        var chart = await HelmChart.RenderValueSetAsync(valueSet);
        var sqlite = chart.ValueText("database.provider") == "Sqlite";
        var expected = new Dictionary<string, bool>
        {
            ["Deployment"] = true,
            ["Service"] = true,
            ["ConfigMap"] = string.IsNullOrEmpty(chart.ValueText("existingPolicyConfigMap")) || chart.ValueText("grafanaDashboard.enabled") == "true",
            ["Ingress"] = chart.ValueText("ingress.enabled") == "true",
            ["GRPCRoute"] = chart.ValueText("grpcRoute.enabled") == "true",
            ["Job"] = chart.ValueText("migrations.mode") == "Job" && !sqlite,
            ["HorizontalPodAutoscaler"] = chart.ValueText("autoscaling.enabled") == "true",
            ["PodDisruptionBudget"] = chart.ValueText("podDisruptionBudget.enabled") == "true",
            ["ServiceMonitor"] = chart.ValueText("metrics.serviceMonitor.enabled") == "true",
            ["PrometheusRule"] = chart.ValueText("metrics.prometheusRule.enabled") == "true",
            ["NetworkPolicy"] = chart.ValueText("networkPolicy.enabled") == "true",
            ["ServiceAccount"] = chart.ValueText("serviceAccount.create") == "true",
            ["PersistentVolumeClaim"] = sqlite && chart.ValueText("persistence.enabled") == "true" && string.IsNullOrEmpty(chart.ValueText("persistence.existingClaim")),
        };
        var problems = new Problems();
        foreach (var (kind, present) in expected)
        {
            problems.Expect(chart.OfKind(kind).Any() == present, $"{kind}: expected {(present ? "present" : "absent")}, found {chart.OfKind(kind).Count()}");
        }

        foreach (var manifest in chart.Manifests)
        {
            var name = $"{Text(manifest["kind"])}/{Text(manifest["metadata"]?["name"])}";
            problems.Expect(manifest["apiVersion"] is not null && manifest["metadata"]?["name"] is not null, $"{name}: no apiVersion or name");
            foreach (var label in new[] { "app.kubernetes.io/name", "app.kubernetes.io/instance", "helm.sh/chart" })
            {
                problems.Expect(manifest["metadata"]?["labels"]?[label] is not null, $"{name}: missing label {label}");
            }
        }

        problems.AssertNone(valueSet);
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetsAndDefaults), MemberType = typeof(HelmChart))]
    public async Task Pods_run_as_non_root_on_a_read_only_root_without_capabilities(string valueSet)
    {
        var chart = await HelmChart.RenderValueSetAsync(valueSet);
        var problems = new Problems();
        foreach (var workload in new[] { chart.Deployment, chart.MigrationJob }.OfType<JsonObject>())
        {
            var where = Text(workload["kind"])!;
            var pod = workload["spec"]!["template"]!["spec"]!;
            problems.Expect(Text(pod["securityContext"]?["runAsNonRoot"]) == "true", $"{where}: runAsNonRoot is not true");
            problems.Expect(Text(pod["securityContext"]?["seccompProfile"]?["type"]) == "RuntimeDefault", $"{where}: seccompProfile is not RuntimeDefault");
            problems.Expect(Text(pod["automountServiceAccountToken"]) == "false", $"{where}: the service account token is mounted");
            var volumes = Objects(pod["volumes"]).ToDictionary(v => Text(v["name"])!);
            foreach (var container in Objects(pod["containers"]).Concat(Objects(pod["initContainers"])))
            {
                var name = $"{where}/{Text(container["name"])}";
                var security = container["securityContext"];
                problems.Expect(Text(security?["readOnlyRootFilesystem"]) == "true", $"{name}: readOnlyRootFilesystem is not true");
                problems.Expect(Text(security?["allowPrivilegeEscalation"]) == "false", $"{name}: allowPrivilegeEscalation is not false");
                problems.Expect(Text(security?["privileged"]) is null or "false", $"{name}: privileged");
                problems.Expect((security?["capabilities"]?["drop"] as JsonArray ?? []).Any(c => Text(c) == "ALL"), $"{name}: capabilities.drop lacks ALL");
                problems.Expect(container["resources"]?["requests"] is JsonObject { Count: > 0 }, $"{name}: no resource requests");
                problems.Expect(container["resources"]?["limits"]?["memory"] is not null, $"{name}: no memory limit");
                var image = Text(container["image"]) ?? "";
                problems.Expect(image.Length > 0 && !image.EndsWith(':') && !image.EndsWith(":latest", StringComparison.Ordinal), $"{name}: image '{image}' is not pinned to a tag or digest");
                var mounts = Objects(container["volumeMounts"]).ToDictionary(m => Text(m["mountPath"])!, m => Text(m["name"])!);
                problems.Expect(mounts.TryGetValue("/tmp", out var tmp) && volumes[tmp]["emptyDir"] is not null, $"{name}: /tmp is not a writable emptyDir");
                problems.Expect(mounts.ContainsKey("/data"), $"{name}: /data is not mounted");
                problems.Expect(Objects(container["env"]).Any(e => Text(e["name"]) == "TMPDIR" && Text(e["value"]) == "/tmp"), $"{name}: TMPDIR is not /tmp");
            }
        }

        problems.AssertNone(valueSet);
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetsAndDefaults), MemberType = typeof(HelmChart))]
    public async Task Services_disruption_budget_autoscaler_and_monitor_select_the_servers_pods(string valueSet)
    {
        var chart = await HelmChart.RenderValueSetAsync(valueSet);
        var problems = new Problems();
        var deployment = chart.Deployment!;
        var podLabels = deployment["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        problems.Expect(Matches(deployment["spec"]!["selector"]!["matchLabels"], podLabels), "Deployment: selector does not match its pod labels");

        var services = chart.OfKind("Service").ToList();
        var main = services.Where(s => Text(s["spec"]?["clusterIP"]) != "None").ToList();
        if (problems.Expect(main.Count == 1, $"Service: expected one ClusterIP Service, found {main.Count}"))
        {
            var service = main[0];
            problems.Expect(Matches(service["spec"]!["selector"], podLabels), "Service: selector does not match the pods");
            var ports = Objects(service["spec"]!["ports"]).ToDictionary(p => Text(p["name"])!);
            problems.Expect(ports.TryGetValue("grpc", out var grpc) && Text(grpc["port"]) == chart.ValueText("service.grpcPort") && Text(grpc["targetPort"]) == "grpc" && Text(grpc["appProtocol"]) == "grpc", "Service: the grpc port is not the gRPC container port marked grpc");
            problems.Expect(ports.TryGetValue("http-metrics", out var metrics) && Text(metrics["port"]) == chart.ValueText("service.httpPort"), "Service: no http-metrics port");
            foreach (var monitor in chart.OfKind("ServiceMonitor"))
            {
                var endpoint = Objects(monitor["spec"]!["endpoints"]).First();
                problems.Expect(Text(endpoint["port"]) == "http-metrics" && Text(endpoint["path"]) == "/metrics", "ServiceMonitor: does not scrape http-metrics /metrics");
                problems.Expect(Matches(monitor["spec"]!["selector"]!["matchLabels"], service["metadata"]!["labels"]!.AsObject()), "ServiceMonitor: selector does not match the Service");
                problems.Expect(Text(service["metadata"]!["labels"]![Text(monitor["spec"]!["jobLabel"]) ?? ""]) == chart.ValueText("metrics.jobName"), "ServiceMonitor: jobLabel does not yield metrics.jobName");
            }
        }

        problems.Expect(chart.ValueText("headlessService.enabled") != "true" || services.Any(s => Text(s["spec"]?["clusterIP"]) == "None"), "Service: the headless Service is missing");
        foreach (var pdb in chart.OfKind("PodDisruptionBudget"))
        {
            problems.Expect(Text(pdb["apiVersion"]) == "policy/v1", "PDB: apiVersion is not policy/v1");
            problems.Expect(pdb["spec"]!["minAvailable"] is null != pdb["spec"]!["maxUnavailable"] is null, "PDB: needs exactly one of minAvailable and maxUnavailable");
            problems.Expect(Matches(pdb["spec"]!["selector"]!["matchLabels"], podLabels), "PDB: selector does not match the pods");
        }

        foreach (var hpa in chart.OfKind("HorizontalPodAutoscaler"))
        {
            problems.Expect(Text(hpa["apiVersion"]) == "autoscaling/v2", "HPA: apiVersion is not autoscaling/v2");
            var target = hpa["spec"]!["scaleTargetRef"]!;
            problems.Expect(Text(target["kind"]) == "Deployment" && Text(target["name"]) == Text(deployment["metadata"]!["name"]), "HPA: does not scale the Deployment");
            problems.Expect((int)hpa["spec"]!["minReplicas"]! <= (int)hpa["spec"]!["maxReplicas"]!, "HPA: minReplicas > maxReplicas");
        }

        var serviceName = Text(deployment["metadata"]!["name"]);
        foreach (var ingress in chart.OfKind("Ingress"))
        {
            var backends = Objects(ingress["spec"]!["rules"]).SelectMany(r => Objects(r["http"]?["paths"])).Select(p => p["backend"]?["service"]).ToList();
            problems.Expect(backends.Count > 0 && backends.All(b => Text(b?["name"]) == serviceName && Text(b?["port"]?["name"]) == "grpc"), "Ingress: a path does not lead to the Service's grpc port");
            problems.Expect(Text(ingress["metadata"]!["annotations"]?["nginx.ingress.kubernetes.io/backend-protocol"]) == (chart.ValueText("tls.enabled") == "true" ? "GRPCS" : "GRPC"), "Ingress: the backend protocol is not gRPC");
        }

        foreach (var route in chart.OfKind("GRPCRoute"))
        {
            var backends = Objects(route["spec"]!["rules"]).SelectMany(r => Objects(r["backendRefs"])).ToList();
            problems.Expect(backends.Count > 0 && backends.All(b => Text(b["name"]) == serviceName && Text(b["port"]) == chart.ValueText("service.grpcPort")), "GRPCRoute: a backend is not the Service's gRPC port");
            problems.Expect(Objects(route["spec"]!["parentRefs"]).Any(), "GRPCRoute: no parentRefs");
        }

        foreach (var dashboard in chart.OfKind("ConfigMap").Where(c => c["data"]?["taskbudgets.json"] is not null))
        {
            foreach (var (label, value) in chart.Value("grafanaDashboard.labels") as JsonObject ?? [])
            {
                problems.Expect(Text(dashboard["metadata"]!["labels"]?[label]) == Text(value), $"dashboard ConfigMap: label {label} missing, so the Grafana sidecar does not load it");
            }

            problems.Expect(Text(dashboard["data"]!["taskbudgets.json"]) == File.ReadAllText(DashboardTests.File).TrimEnd('\n'), "dashboard ConfigMap: not the shipped dashboard");
        }

        foreach (var policy in chart.OfKind("NetworkPolicy"))
        {
            var ports = Objects(policy["spec"]!["ingress"]).SelectMany(rule => Objects(rule["ports"])).Select(p => Text(p["port"])).ToList();
            problems.Expect(ports.Contains("grpc") && ports.Contains("http"), "NetworkPolicy: ingress does not open grpc and http");
        }

        problems.AssertNone(valueSet);
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetsAndDefaults), MemberType = typeof(HelmChart))]
    public async Task Values_reach_the_server_container_as_its_configuration(string valueSet)
    {
        var chart = await HelmChart.RenderValueSetAsync(valueSet);
        var sqlite = chart.ValueText("database.provider") == "Sqlite";
        var mode = chart.ValueText("migrations.mode");
        var container = ServerContainer(chart);
        var env = Objects(container["env"]).ToDictionary(e => Text(e["name"])!);
        var want = new Dictionary<string, string?>
        {
            ["Server__ListenAddress"] = "0.0.0.0", // Anything else is unreachable from outside the pod.
            ["Server__GrpcPort"] = chart.ValueText("ports.grpc"),
            ["Server__HttpPort"] = chart.ValueText("ports.http"),
            ["Storage__Provider"] = chart.ValueText("database.provider"),
            ["Storage__DataDirectory"] = "/data",
            ["Storage__MigrateOnStart"] = mode == "OnStart" || (mode == "Job" && sqlite) ? "true" : "false",
            ["Policy__File"] = "/etc/taskbudgets/policies.yaml",
            ["Policy__ApplyOnStart"] = chart.ValueText("config.policyApplyOnStart"),
            ["Grants__Ttl"] = chart.ValueText("config.grantsTtl"),
            ["Leases__RenewInterval"] = chart.ValueText("config.leasesRenewInterval"),
            ["Leases__Ttl"] = chart.ValueText("config.leasesTtl"),
        };
        var tls = chart.ValueText("tls.enabled") == "true";
        var clientCa = tls && chart.ValueText("tls.clientCa.enabled") == "true";
        want["Server__Tls__CertificatePath"] = tls ? "/etc/taskbudgets-tls/" + chart.ValueText("tls.certificateKey") : null;
        want["Server__Tls__KeyPath"] = tls ? "/etc/taskbudgets-tls/" + chart.ValueText("tls.privateKeyKey") : null;
        want["Server__Tls__ClientCaPath"] = clientCa ? "/etc/taskbudgets-client-ca/" + chart.ValueText("tls.clientCa.key") : null;
        want["Server__Tls__RequireClientCertificate"] = clientCa ? chart.ValueText("tls.clientCa.require") : null;
        var problems = new Problems();
        foreach (var (name, value) in want)
        {
            var actual = env.TryGetValue(name, out var variable) ? Text(variable["value"]) : null;
            problems.Expect(actual == value, $"env {name}={actual}, want {value}");
        }

        var ports = Objects(container["ports"]).ToDictionary(p => Text(p["name"])!, p => Text(p["containerPort"]));
        problems.Expect(ports.GetValueOrDefault("grpc") == chart.ValueText("ports.grpc") && ports.GetValueOrDefault("http") == chart.ValueText("ports.http"), "container ports are not ports.grpc and ports.http");
        var policyMount = Objects(container["volumeMounts"]).FirstOrDefault(m => Text(m["mountPath"]) == "/etc/taskbudgets");
        problems.Expect(Text(policyMount?["readOnly"]) == "true", "the policy is not mounted read-only at /etc/taskbudgets");
        var tlsMount = Objects(container["volumeMounts"]).FirstOrDefault(m => Text(m["mountPath"]) == "/etc/taskbudgets-tls");
        problems.Expect(tls ? Text(tlsMount?["readOnly"]) == "true" && tlsMount?["subPath"] is null : tlsMount is null, $"the TLS Secret is {(tls ? "not mounted read-only as a directory" : "mounted without tls.enabled")} at /etc/taskbudgets-tls");

        foreach (var configMap in chart.OfKind("ConfigMap").Where(c => c["data"]?["taskbudgets.json"] is null))
        {
            var policy = Yaml.Parse(Text(configMap["data"]?["policies.yaml"]) ?? "") as JsonObject;
            problems.Expect(policy is not null && new[] { "models", "tiers", "orgs" }.All(policy.ContainsKey), "ConfigMap: policies.yaml lacks models, tiers or orgs");
        }

        problems.AssertNone(valueSet);
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetsAndDefaults), MemberType = typeof(HelmChart))]
    public async Task Rollouts_replace_pods_on_policy_changes_and_keep_Sqlite_to_one_process(string valueSet)
    {
        var chart = await HelmChart.RenderValueSetAsync(valueSet);
        var spec = chart.Deployment!["spec"]!;
        var template = spec["template"]!;
        var problems = new Problems();
        if (chart.ValueText("autoscaling.enabled") == "true")
        {
            problems.Expect(spec["replicas"] is null, "replicas are set although the HPA owns them");
        }
        else
        {
            problems.Expect(Text(spec["replicas"]) == chart.ValueText("replicaCount"), "replicas are not replicaCount");
        }

        if (chart.ValueText("database.provider") == "Sqlite")
        {
            problems.Expect(Text(spec["strategy"]?["type"]) == "Recreate", "Sqlite needs strategy Recreate: two processes on one database file");
            problems.Expect(Text(spec["replicas"]) == "1", "Sqlite with more than one replica");
            var data = Objects(template["spec"]!["volumes"]).FirstOrDefault(v => Text(v["name"]) == "data");
            problems.Expect(chart.ValueText("persistence.enabled") != "true" || data?["persistentVolumeClaim"] is not null, "Sqlite's /data is not a PersistentVolumeClaim");
        }

        if (chart.OfKind("ConfigMap").Any())
        {
            problems.Expect(Regex.IsMatch(Text(template["metadata"]?["annotations"]?["checksum/config"]) ?? "", "^[0-9a-f]{64}$"), "the pod template lacks the checksum/config annotation that rolls pods on a policy change");
        }

        var antiAffinity = chart.ValueText("podAntiAffinity");
        if (antiAffinity is "soft" or "hard" && chart.Value("affinity") is not JsonObject { Count: > 0 })
        {
            var terms = template["spec"]!["affinity"]?["podAntiAffinity"]?[antiAffinity == "soft" ? "preferredDuringSchedulingIgnoredDuringExecution" : "requiredDuringSchedulingIgnoredDuringExecution"];
            problems.Expect(Objects(terms).Any(t => Text((t["podAffinityTerm"] ?? t)["topologyKey"]) == "kubernetes.io/hostname"), $"no {antiAffinity} pod anti-affinity by hostname");
        }

        problems.AssertNone(valueSet);
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetsAndDefaults), MemberType = typeof(HelmChart))]
    public async Task Credentials_come_from_a_Secret_and_never_in_clear_text(string valueSet)
    {
        var chart = await HelmChart.RenderValueSetAsync(valueSet);
        var existingSecret = chart.ValueText("existingSecret") ?? "";
        var env = Objects(ServerContainer(chart)["env"]).ToDictionary(e => Text(e["name"])!);
        var problems = new Problems();
        if (chart.ValueText("database.provider") != "Sqlite")
        {
            var reference = env.GetValueOrDefault("ConnectionStrings__Governance")?["valueFrom"]?["secretKeyRef"];
            problems.Expect(Text(reference?["name"]) == (existingSecret.Length > 0 ? existingSecret : Text(chart.Deployment!["metadata"]!["name"])), "the connection string is not taken from the expected Secret");
            problems.Expect(Text(reference?["key"]) == chart.ValueText("secretKeys.connectionString"), "the connection string's Secret key is not secretKeys.connectionString");
            problems.Expect(Text(reference?["optional"]) is null or "false", "the connection string must not be optional");
        }

        // One admin key for every replica, from a Secret, never optional: a pod without it would make up its own.
        var adminKey = env.GetValueOrDefault("Auth__AdminKey")?["valueFrom"]?["secretKeyRef"];
        var adminSecret = chart.ValueText("auth.existingSecret") is { Length: > 0 } own ? own : existingSecret.Length > 0 ? existingSecret : Text(chart.Deployment!["metadata"]!["name"]);
        problems.Expect(Text(adminKey?["name"]) == adminSecret && Text(adminKey?["key"]) == chart.ValueText("secretKeys.adminKey"), $"the admin key is not taken from Secret {adminSecret}, key secretKeys.adminKey");
        problems.Expect(Text(adminKey?["optional"]) is null or "false", "the admin key must not be optional");
        if (Text(adminKey?["name"]) == Text(chart.Deployment!["metadata"]!["name"]))
        {
            var chartSecret = chart.OfKind("Secret").SingleOrDefault(s => Text(s["metadata"]!["name"]) == adminSecret);
            problems.Expect(chartSecret?["data"]?[chart.ValueText("secretKeys.adminKey")!] is not null, "the chart's Secret lacks the admin key it generates or is given");
        }

        foreach (var (name, variable) in env)
        {
            problems.Expect(!Regex.IsMatch(Text(variable["value"]) ?? "", "(?i)password="), $"env {name} carries a password in clear text");
        }

        var secrets = chart.OfKind("Secret").ToList();
        var plain = secrets.Where(s => s["metadata"]?["annotations"]?["helm.sh/hook"] is null).ToList();
        if (existingSecret.Length > 0)
        {
            problems.Expect(secrets.Count == 0, "a Secret is rendered although existingSecret is set");
        }
        else if (!string.IsNullOrEmpty(chart.ValueText("database.connectionString")) || !string.IsNullOrEmpty(chart.ValueText("auth.adminKey")))
        {
            problems.Expect(plain.Count == 1, $"expected the chart's one Secret, found {plain.Count}");
        }

        problems.Expect(secrets.All(s => (s["data"] as JsonObject ?? []).All(d => !string.IsNullOrEmpty(Text(d.Value)))), "a Secret has an empty value");
        problems.AssertNone(valueSet);
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetsAndDefaults), MemberType = typeof(HelmChart))]
    public async Task Migration_job_runs_before_the_pods_with_a_Secret_that_exists_by_then(string valueSet)
    {
        var chart = await HelmChart.RenderValueSetAsync(valueSet);
        if (chart.MigrationJob is not { } job)
        {
            Assert.False(chart.ValueText("migrations.mode") == "Job" && chart.ValueText("database.provider") != "Sqlite", "migrations.mode is Job, but no Job was rendered");
            return;
        }

        var problems = new Problems();
        var annotations = job["metadata"]!["annotations"]!;
        var hooks = (Text(annotations["helm.sh/hook"]) ?? "").Split(',');
        problems.Expect(hooks.Contains("pre-install") && hooks.Contains("pre-upgrade"), $"helm.sh/hook is {Text(annotations["helm.sh/hook"])}, want pre-install,pre-upgrade");
        problems.Expect((Text(annotations["helm.sh/hook-delete-policy"]) ?? "").Contains("before-hook-creation", StringComparison.Ordinal), "hook-delete-policy lacks before-hook-creation");
        var pod = job["spec"]!["template"]!["spec"]!;
        problems.Expect(Text(pod["restartPolicy"]) == "Never", "restartPolicy is not Never");
        var container = Objects(pod["containers"]).Single();
        problems.Expect(container["args"]?.ToJsonString() == "[\"migrate\"]", $"args {container["args"]?.ToJsonString()}, want [\"migrate\"]");
        problems.Expect(Text(container["image"]) == Text(ServerContainer(chart)["image"]), "the Job's image differs from the Deployment's");
        var reference = Objects(container["env"]).FirstOrDefault(e => Text(e["name"]) == "ConnectionStrings__Governance")?["valueFrom"]?["secretKeyRef"];
        var existingSecret = chart.ValueText("existingSecret") ?? "";
        if (existingSecret.Length > 0)
        {
            problems.Expect(Text(reference?["name"]) == existingSecret, "the Job does not use existingSecret");
        }
        else
        {
            // A pre-install hook runs before the release's ordinary objects exist: its Secret must be a hook too, created first.
            var secret = chart.OfKind("Secret").FirstOrDefault(s => Text(s["metadata"]!["name"]) == Text(reference?["name"]) && s["metadata"]?["annotations"]?["helm.sh/hook"] is not null);
            if (problems.Expect(secret is not null, "the Job's connection-string Secret is not a hook, so it would not exist yet on install"))
            {
                problems.Expect(int.Parse(Text(secret!["metadata"]!["annotations"]!["helm.sh/hook-weight"]) ?? "0", System.Globalization.CultureInfo.InvariantCulture) < int.Parse(Text(annotations["helm.sh/hook-weight"]) ?? "0", System.Globalization.CultureInfo.InvariantCulture), "the Job's Secret is not created before the Job (hook weight)");
            }
        }

        problems.AssertNone(valueSet);
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetsAndDefaults), MemberType = typeof(HelmChart))]
    public async Task Probes_check_the_process_and_readiness_of_the_budget_service(string valueSet)
    {
        var chart = await HelmChart.RenderValueSetAsync(valueSet);
        var container = ServerContainer(chart);
        var problems = new Problems();

        // The kubelet's gRPC probe has no TLS: with TLS on, the probes are HTTPS on the HTTP port.
        var tls = chart.ValueText("tls.enabled") == "true";
        var grpcProbes = chart.ValueText("probes.mode") == "grpc" && !tls;
        foreach (var name in new[] { "livenessProbe", "readinessProbe" })
        {
            var probe = container[name];
            if (!problems.Expect(probe is not null, $"{name} missing"))
            {
                continue;
            }

            if (grpcProbes)
            {
                problems.Expect(Text(probe!["grpc"]?["port"]) == chart.ValueText("ports.grpc"), $"{name} is not a gRPC probe on the gRPC port");
            }
            else
            {
                problems.Expect(Text(probe!["httpGet"]?["path"]) is "/healthz" or "/readyz", $"{name} is not an HTTP probe of /healthz or /readyz");
                problems.Expect(Text(probe!["httpGet"]?["scheme"]) == (tls ? "HTTPS" : null), $"{name}: scheme {Text(probe!["httpGet"]?["scheme"])} with tls.enabled={tls}");
            }
        }

        if (grpcProbes)
        {
            problems.Expect(Text(container["readinessProbe"]?["grpc"]?["service"]) == "taskbudgets.v1.BudgetService", "readiness does not ask for taskbudgets.v1.BudgetService");
        }

        problems.AssertNone(valueSet);
    }

    [Fact]
    public async Task Prometheus_rule_selects_the_configured_job_and_passes_promtool()
    {
        using var scratch = new TempDirectory();
        var chart = await HelmChart.RenderValueSetAsync("monitoring-on-values");
        var rule = chart.OfKind("PrometheusRule").Single();
        Assert.Equal("monitoring.coreos.com/v1", Text(rule["apiVersion"]));
        var rules = Objects(rule["spec"]!["groups"]).SelectMany(g => Objects(g["rules"])).ToList();
        Assert.True(rules.Count >= 5, $"only {rules.Count} rules");
        var job = $"job=\"{chart.ValueText("metrics.jobName")}\"";
        var problems = new Problems();
        foreach (var alert in rules)
        {
            var name = Text(alert["alert"]);
            problems.Expect((Text(alert["expr"]) ?? "").Contains(job, StringComparison.Ordinal), $"{name}: expr does not select {job}");
            problems.Expect((Text(alert["annotations"]?["runbook_url"]) ?? "").StartsWith(chart.ValueText("metrics.prometheusRule.runbookBaseUrl")!, StringComparison.Ordinal), $"{name}: runbook_url is not prefixed with runbookBaseUrl");
            foreach (var (label, value) in chart.Value("metrics.prometheusRule.additionalRuleLabels") as JsonObject ?? [])
            {
                problems.Expect(Text(alert["labels"]?[label]) == Text(value), $"{name}: label {label} missing");
            }
        }

        problems.AssertNone("PrometheusRule");
        var file = Path.Combine(scratch.Path, "rules.yml");
        await File.WriteAllTextAsync(file, new JsonObject { ["groups"] = rule["spec"]!["groups"]!.DeepClone() }.ToJsonString());
        (await Promtool.RunAsync("check", "rules", file)).Succeeded();
    }

    private static JsonObject ServerContainer(RenderedChart chart) =>
        Objects(chart.Deployment!["spec"]!["template"]!["spec"]!["containers"]).Single(c => Text(c["name"]) == "governance");

    private static bool Matches(JsonNode? selector, JsonObject labels) =>
        selector is JsonObject s && s.All(p => Text(labels[p.Key]) == Text(p.Value));
}
