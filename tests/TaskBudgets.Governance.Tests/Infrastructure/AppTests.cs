namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// A test class whose every test gets an app of its own, started before the test and disposed
/// after it: the SQLite app under <see cref="TestPolicy"/> unless the class starts another.
/// </summary>
public abstract class AppTests : IAsyncLifetime
{
    private GovernanceApp? app;

    protected GovernanceApp App => app ?? throw new InvalidOperationException("not started");

    public virtual async ValueTask InitializeAsync() => app = await StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    protected virtual Task<GovernanceApp> StartAsync() => Task.FromResult(GovernanceApp.Create());
}
