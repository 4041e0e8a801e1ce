IF OBJECT_ID(N'[__EFMigrationsHistory]') IS NULL
BEGIN
    CREATE TABLE [__EFMigrationsHistory] (
        [MigrationId] nvarchar(150) NOT NULL,
        [ProductVersion] nvarchar(32) NOT NULL,
        CONSTRAINT [PK___EFMigrationsHistory] PRIMARY KEY ([MigrationId])
    );
END;
GO

BEGIN TRANSACTION;
IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE TABLE [capacity_leases] (
        [Id] nvarchar(400) NOT NULL,
        [CounterKey] nvarchar(400) NOT NULL,
        [WindowStart] bigint NOT NULL,
        [ReplicaId] nvarchar(64) NOT NULL,
        [Amount] bigint NOT NULL,
        [DebitedByOwner] bigint NOT NULL,
        [DebitedByOthers] bigint NOT NULL,
        [ExpiresAtMs] bigint NOT NULL,
        CONSTRAINT [PK_capacity_leases] PRIMARY KEY ([Id])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE TABLE [models] (
        [Name] nvarchar(128) NOT NULL,
        [Family] int NOT NULL,
        [Thinking] int NOT NULL,
        [MinThinkingTokens] bigint NOT NULL,
        [MaxThinkingTokens] bigint NOT NULL,
        [InputMicrosPerMillion] bigint NOT NULL,
        [CachedInputMicrosPerMillion] bigint NOT NULL,
        [CacheWriteMicrosPerMillion] bigint NOT NULL,
        [OutputMicrosPerMillion] bigint NOT NULL,
        CONSTRAINT [PK_models] PRIMARY KEY ([Name])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE TABLE [orgs] (
        [Id] nvarchar(128) NOT NULL,
        [DisplayName] nvarchar(256) NOT NULL,
        [Tier] nvarchar(128) NOT NULL,
        CONSTRAINT [PK_orgs] PRIMARY KEY ([Id])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE TABLE [quota_counters] (
        [CounterKey] nvarchar(400) NOT NULL,
        [WindowStart] bigint NOT NULL,
        [Consumed] bigint NOT NULL,
        [Leased] bigint NOT NULL,
        CONSTRAINT [PK_quota_counters] PRIMARY KEY ([CounterKey], [WindowStart])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE TABLE [quotas] (
        [Id] nvarchar(400) NOT NULL,
        [OrgId] nvarchar(128) NOT NULL,
        [Scope] int NOT NULL,
        [Subject] nvarchar(128) NOT NULL,
        [Metric] int NOT NULL,
        [Window] int NOT NULL,
        [Limit] bigint NOT NULL,
        CONSTRAINT [PK_quotas] PRIMARY KEY ([Id])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE TABLE [settings] (
        [Key] nvarchar(128) NOT NULL,
        [Value] nvarchar(1024) NOT NULL,
        CONSTRAINT [PK_settings] PRIMARY KEY ([Key])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE TABLE [settlements] (
        [Id] nvarchar(400) NOT NULL,
        [OrgId] nvarchar(128) NOT NULL,
        [Kind] int NOT NULL,
        [ProjectId] nvarchar(128) NOT NULL,
        [PrincipalId] nvarchar(128) NOT NULL,
        [TaskType] nvarchar(128) NOT NULL,
        [Model] nvarchar(128) NOT NULL,
        [Tier] nvarchar(128) NOT NULL,
        [GrantedReasoningTokens] bigint NOT NULL,
        [GrantedOutputTokens] bigint NOT NULL,
        [InputTokens] bigint NOT NULL,
        [CachedInputTokens] bigint NOT NULL,
        [CacheWriteInputTokens] bigint NOT NULL,
        [OutputTokens] bigint NOT NULL,
        [ReasoningTokens] bigint NOT NULL,
        [CostMicros] bigint NOT NULL,
        [StopReason] int NOT NULL,
        [Outcome] int NOT NULL,
        [LatencyMs] bigint NOT NULL,
        [Late] bit NOT NULL,
        [OverGrant] bit NOT NULL,
        [Truncated] bit NOT NULL,
        [SettledAtMs] bigint NOT NULL,
        [QuotasJson] nvarchar(max) NOT NULL,
        CONSTRAINT [PK_settlements] PRIMARY KEY ([Id])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE TABLE [tier_rules] (
        [Tier] nvarchar(128) NOT NULL,
        [TaskType] nvarchar(128) NOT NULL,
        [MinReasoningTokens] bigint NOT NULL,
        [DefaultReasoningTokens] bigint NOT NULL,
        [MaxReasoningTokens] bigint NOT NULL,
        [AnswerTokens] bigint NOT NULL,
        [MaxOutputTokens] bigint NOT NULL,
        [Effort] int NOT NULL,
        [EscalationFactor] float NOT NULL,
        [PreliminaryFraction] float NOT NULL,
        [SoftLimitThreshold] float NOT NULL,
        [SoftLimitFloor] float NOT NULL,
        [TaskBudgetTokens] bigint NOT NULL,
        CONSTRAINT [PK_tier_rules] PRIMARY KEY ([Tier], [TaskType])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE INDEX [IX_capacity_leases_ExpiresAtMs] ON [capacity_leases] ([ExpiresAtMs]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE INDEX [IX_quotas_OrgId] ON [quotas] ([OrgId]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    CREATE INDEX [IX_settlements_OrgId_SettledAtMs] ON [settlements] ([OrgId], [SettledAtMs]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129020749_Initial'
)
BEGIN
    INSERT INTO [__EFMigrationsHistory] ([MigrationId], [ProductVersion])
    VALUES (N'20261129020749_Initial', N'10.0.15');
END;

COMMIT;
GO

BEGIN TRANSACTION;
IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024127_TaskBudgets'
)
BEGIN
    CREATE TABLE [task_budgets] (
        [OrgId] nvarchar(128) NOT NULL,
        [TaskId] nvarchar(128) NOT NULL,
        [Total] bigint NOT NULL,
        [Used] bigint NOT NULL,
        [CreatedAtMs] bigint NOT NULL,
        CONSTRAINT [PK_task_budgets] PRIMARY KEY ([OrgId], [TaskId])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024127_TaskBudgets'
)
BEGIN
    INSERT INTO [__EFMigrationsHistory] ([MigrationId], [ProductVersion])
    VALUES (N'20261129024127_TaskBudgets', N'10.0.15');
END;

COMMIT;
GO

BEGIN TRANSACTION;
IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    ALTER TABLE [orgs] ADD [Projects] nvarchar(max) NOT NULL DEFAULT N'';
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    CREATE TABLE [api_keys] (
        [Id] nvarchar(64) NOT NULL,
        [Hash] nvarchar(64) NOT NULL,
        [Role] int NOT NULL,
        [OrgId] nvarchar(128) NOT NULL,
        [Description] nvarchar(256) NOT NULL,
        [CreatedBy] nvarchar(64) NOT NULL,
        [CreatedAtMs] bigint NOT NULL,
        [RevokedAtMs] bigint NULL,
        CONSTRAINT [PK_api_keys] PRIMARY KEY ([Id])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    CREATE TABLE [audit_events] (
        [Id] bigint NOT NULL IDENTITY,
        [AtMs] bigint NOT NULL,
        [Actor] nvarchar(64) NOT NULL,
        [Action] nvarchar(64) NOT NULL,
        [ResourceType] nvarchar(32) NOT NULL,
        [ResourceId] nvarchar(400) NOT NULL,
        [OrgId] nvarchar(128) NOT NULL,
        [Before] nvarchar(max) NOT NULL,
        [After] nvarchar(max) NOT NULL,
        [PolicyVersion] bigint NOT NULL,
        CONSTRAINT [PK_audit_events] PRIMARY KEY ([Id])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    CREATE TABLE [usage_counters] (
        [Id] nvarchar(64) NOT NULL,
        [OrgId] nvarchar(128) NOT NULL,
        [ProjectId] nvarchar(128) NOT NULL,
        [PrincipalId] nvarchar(128) NOT NULL,
        [Tier] nvarchar(128) NOT NULL,
        [TaskType] nvarchar(128) NOT NULL,
        [HourStart] bigint NOT NULL,
        [Grants] bigint NOT NULL,
        [Reduced] bigint NOT NULL,
        [Denials] bigint NOT NULL,
        [GrantedReasoningTokens] bigint NOT NULL,
        [GrantedOutputTokens] bigint NOT NULL,
        [GrantedInputTokens] bigint NOT NULL,
        [GrantedCostMicros] bigint NOT NULL,
        CONSTRAINT [PK_usage_counters] PRIMARY KEY ([Id])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    CREATE UNIQUE INDEX [IX_api_keys_Hash] ON [api_keys] ([Hash]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    CREATE INDEX [IX_api_keys_OrgId] ON [api_keys] ([OrgId]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    CREATE INDEX [IX_audit_events_AtMs] ON [audit_events] ([AtMs]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    CREATE INDEX [IX_audit_events_OrgId_Id] ON [audit_events] ([OrgId], [Id]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    CREATE INDEX [IX_usage_counters_OrgId_HourStart] ON [usage_counters] ([OrgId], [HourStart]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129024130_ControlPlane'
)
BEGIN
    INSERT INTO [__EFMigrationsHistory] ([MigrationId], [ProductVersion])
    VALUES (N'20261129024130_ControlPlane', N'10.0.15');
END;

COMMIT;
GO

BEGIN TRANSACTION;
IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129065034_AdaptiveBudgets'
)
BEGIN
    ALTER TABLE [tier_rules] ADD [Adaptive] bit NOT NULL DEFAULT CAST(0 AS bit);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129065034_AdaptiveBudgets'
)
BEGIN
    ALTER TABLE [tier_rules] ADD [MinSamples] int NOT NULL DEFAULT 200;
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129065034_AdaptiveBudgets'
)
BEGIN
    ALTER TABLE [tier_rules] ADD [TargetTruncationRate] float NOT NULL DEFAULT 0.02E0;
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129065034_AdaptiveBudgets'
)
BEGIN
    CREATE TABLE [calibrations] (
        [ReplicaId] nvarchar(64) NOT NULL,
        [Tier] nvarchar(128) NOT NULL,
        [TaskType] nvarchar(128) NOT NULL,
        [OrgId] nvarchar(128) NOT NULL,
        [Stats] varbinary(max) NOT NULL,
        [UpdatedAtMs] bigint NOT NULL,
        CONSTRAINT [PK_calibrations] PRIMARY KEY ([ReplicaId], [Tier], [TaskType], [OrgId])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129065034_AdaptiveBudgets'
)
BEGIN
    CREATE INDEX [IX_calibrations_UpdatedAtMs] ON [calibrations] ([UpdatedAtMs]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261129065034_AdaptiveBudgets'
)
BEGIN
    INSERT INTO [__EFMigrationsHistory] ([MigrationId], [ProductVersion])
    VALUES (N'20261129065034_AdaptiveBudgets', N'10.0.15');
END;

COMMIT;
GO

BEGIN TRANSACTION;
IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261206155738_FleetHolds'
)
BEGIN
    ALTER TABLE [capacity_leases] ADD [Held] bigint NOT NULL DEFAULT CAST(0 AS bigint);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261206155738_FleetHolds'
)
BEGIN
    ALTER TABLE [capacity_leases] ADD [Reclaimed] bigint NOT NULL DEFAULT CAST(0 AS bigint);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261206155738_FleetHolds'
)
BEGIN
    ALTER TABLE [capacity_leases] ADD [RenewedAtMs] bigint NOT NULL DEFAULT CAST(0 AS bigint);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261206155738_FleetHolds'
)
BEGIN
    ALTER TABLE [capacity_leases] ADD [Reserved] bigint NOT NULL DEFAULT CAST(0 AS bigint);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261206155738_FleetHolds'
)
BEGIN
    CREATE TABLE [grant_notices] (
        [IssuerReplicaId] nvarchar(64) NOT NULL,
        [GrantId] nvarchar(64) NOT NULL,
        [ExpiresAtMs] bigint NOT NULL,
        CONSTRAINT [PK_grant_notices] PRIMARY KEY ([IssuerReplicaId], [GrantId])
    );
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261206155738_FleetHolds'
)
BEGIN
    CREATE INDEX [IX_capacity_leases_CounterKey_WindowStart] ON [capacity_leases] ([CounterKey], [WindowStart]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261206155738_FleetHolds'
)
BEGIN
    CREATE INDEX [IX_grant_notices_ExpiresAtMs] ON [grant_notices] ([ExpiresAtMs]);
END;

IF NOT EXISTS (
    SELECT * FROM [__EFMigrationsHistory]
    WHERE [MigrationId] = N'20261206155738_FleetHolds'
)
BEGIN
    INSERT INTO [__EFMigrationsHistory] ([MigrationId], [ProductVersion])
    VALUES (N'20261206155738_FleetHolds', N'10.0.15');
END;

COMMIT;
GO

