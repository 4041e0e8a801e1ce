using BenchmarkDotNet.Running;
using TaskBudgets.Benchmarks;

// dotnet run -c Release --project tests/TaskBudgets.Benchmarks -- --filter '*'
// (BenchmarkDotNet's own options: --job short for a quick run, --list flat to see the benchmarks.)
BenchmarkSwitcher.FromAssembly(typeof(DecisionBenchmarks).Assembly).Run(args);
