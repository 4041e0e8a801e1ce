using System.Runtime.InteropServices;

namespace TaskBudgets.LoadTest;

/// <summary>The machine a run was on, as the report states it.</summary>
internal sealed record Machine(int Cores, string Cpu, string Memory, string Runtime, string Os)
{
    /// <summary>The 1, 5 and 15 minute load averages: other work on the machine skews a run.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    public static Machine Describe()
    {
        var cpu = "unknown";
        var memory = "unknown";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
            var total = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal", StringComparison.Ordinal));
            if (total is not null && long.TryParse(total.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out var kib))
            {
                memory = $"{kib / 1048576.0:0.0} GiB";
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return new Machine(Environment.ProcessorCount, cpu, memory, RuntimeInformation.FrameworkDescription, RuntimeInformation.OSDescription);
    }
}
