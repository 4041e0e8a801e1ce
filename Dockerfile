# TaskBudgets Governance: container image.
#
#   docker build -t taskbudgets-governance:local .
#   docker run --rm -p 8080:8080 -p 8081:8081 --read-only --tmpfs /tmp \
#     -v taskbudgets-data:/data taskbudgets-governance:local
#
# Ports: 8080 gRPC (plaintext HTTP/2 only), 8081 HTTP/1.1 (/metrics, /healthz, /readyz).
# One-shot schema migration: `docker run ... taskbudgets-governance:local migrate`.
# See docs/operations.md for the configuration reference.

# Exact versions, so a rebuild gets the same runtime until this line is changed on purpose.
ARG DOTNET_SDK_VERSION=10.0.401
ARG DOTNET_RUNTIME_VERSION=10.0.12

# ---------------------------------------------------------------------------
# restore-inputs: the project files only. This stage reruns on every source
# change, but its output is identical unless a *.csproj/*.props/*.targets file
# changed, so the `COPY --from` below (and therefore the restore layer) stays
# cached. Works with every builder, unlike `COPY --parents`.
# ---------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_SDK_VERSION} AS restore-inputs
WORKDIR /src
COPY src/ src/
RUN find src -type f \
      ! -name '*.csproj' ! -name '*.props' ! -name '*.targets' ! -name 'packages.lock.json' \
      -delete \
 && find src -type d -empty -delete

# ---------------------------------------------------------------------------
# build: restore (cached layer), then publish.
# ---------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_SDK_VERSION} AS build
WORKDIR /src
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1 \
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# The bracket globs make the NuGet config optional: COPY accepts patterns that
# match nothing as long as one source in the instruction exists.
COPY global.json Directory.Build.props Directory.Packages.props NuGet.confi[g] nuget.confi[g] ./
COPY --from=restore-inputs /src/src/ src/
# Grpc.Tools needs the protos at restore/build time; they change rarely.
COPY protos/ protos/
RUN dotnet restore src/TaskBudgets.Governance/TaskBudgets.Governance.csproj -r linux-x64

COPY src/ src/
# For linux-x64 and framework-dependent: only that platform's native libraries (SQLite), none of
# the other platforms' a portable publish carries. The test suite and .ci/run run exactly this
# command (Deployment/DockerfileTests): keep them in step.
RUN dotnet publish src/TaskBudgets.Governance/TaskBudgets.Governance.csproj -c Release -r linux-x64 --self-contained false -o /app/publish

# ---------------------------------------------------------------------------
# runtime: ASP.NET Core runtime only, non-root, read-only-root friendly.
# ---------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_RUNTIME_VERSION} AS runtime
WORKDIR /app

# The only writable paths the service needs: /data (SQLite file, when the
# Sqlite provider is used) and /tmp (TMPDIR). Create /data owned by the image's
# non-root `app` user (UID/GID $APP_UID, 1654 in the .NET 8+ images) so that a
# fresh named volume inherits that ownership.
RUN mkdir -p /data \
 && chown "$APP_UID:$APP_UID" /data \
 && chmod 0750 /data

COPY --from=build --chown=root:root /app/publish/ /app/

# The service binds its own two ports (Server__GrpcPort, Server__HttpPort) on
# Server__ListenAddress, which defaults to localhost outside containers: listen
# on all interfaces here (0.0.0.0 means any IPv4 and IPv6 address). The base
# image's ASPNETCORE_HTTP_PORTS (8080) is cleared so Kestrel does not warn
# about overriding it.
ENV ASPNETCORE_HTTP_PORTS= \
    DOTNET_RUNNING_IN_CONTAINER=true \
    DOTNET_NOLOGO=1 \
    TMPDIR=/tmp \
    Server__ListenAddress=0.0.0.0 \
    Server__GrpcPort=8080 \
    Server__HttpPort=8081 \
    Storage__DataDirectory=/data

USER $APP_UID
EXPOSE 8080 8081
VOLUME ["/data"]

# Ready means the database answers and the policy is loaded: GET /readyz on the HTTP port (over
# TLS when a certificate is configured), done by the server's own `healthcheck` command since the
# image has no shell tools. Exit 0 ready, 1 not.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["dotnet", "TaskBudgets.Governance.dll", "healthcheck"]

# Arguments are passed to the service, e.g. `migrate`.
ENTRYPOINT ["dotnet", "TaskBudgets.Governance.dll"]
