/// One ping-pong window in one mode.
struct Sample: Codable, Sendable {
  var round: Int
  var mode: Mode
  /// Round trips per second reported by the workload.
  var rate: Double
  /// The workload's own CPU time over the window, in % of one core.
  var workloadCPUPercent: Double
  /// CPU time of everything outside the benchmark during the window, in % of all CPUs.
  var otherLoadPercent: Double
  /// vigild's readings, when it ran.
  var daemon: DaemonWindow?
}

/// What vigild did during one window.
struct DaemonWindow: Codable, Sendable {
  /// Wall time from opening the gate to the workload's exit.
  var seconds: Double
  /// vigild's CPU time over the same span.
  var cpuSeconds: Double
  /// Counter growth over the same span.
  var window: DaemonCounters
  /// Counter growth including the drain after the workload exited (for losses).
  var total: DaemonCounters
  /// VmRSS after the window.
  var rssKiB: Int
  /// Recent events of the ping-pong checked for stacks, and how many had one.
  var eventsChecked: Int
  var eventsWithStack: Int
  /// Of those, how many had at least one frame resolved to a function name.
  var eventsSymbolized: Int
  /// The innermost frames of one such stack.
  var exampleStack: [String]

  var eventsPerSecond: Double { Double(window.received) / seconds }
  var processedPerSecond: Double { Double(window.processed) / seconds }
  var cpuPercent: Double { 100 * cpuSeconds / seconds }
}
