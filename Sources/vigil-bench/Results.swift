/// Everything one benchmark run measured.
struct Results: Codable, Sendable {
  /// vigild sitting idle on its embedded default.
  struct Idle: Codable, Sendable {
    var seconds: Double
    var rssKiB: Int
    var cpuPercent: Double
  }

  /// One mode over all rounds.
  struct ModeSummary: Codable, Sendable {
    var mode: Mode
    var rates: [Double]
    var medianRate: Double
    /// Median rate over the untraced median rate.
    var ratioToUntraced: Double
    /// Median of each round's rate over the same round's untraced rate.
    var pairedRatio: Double
    /// The workload's CPU time, % of one core (median).
    var workloadCPUPercent: Double
    /// Load from outside the benchmark, % of all CPUs (highest window).
    var maxOtherLoadPercent: Double
    var daemon: DaemonSummary?
  }

  /// vigild over all rounds of one mode.
  struct DaemonSummary: Codable, Sendable {
    var medianEventsPerSecond: Double
    var medianProcessedPerSecond: Double
    /// CPU time over window time, all rounds together.
    var cpuPercent: Double
    /// Counters summed over the rounds, drain included.
    var total: DaemonCounters
    var maxRssKiB: Int
    var eventsChecked: Int
    var eventsWithStack: Int
    var eventsSymbolized: Int
    var exampleStack: [String]
  }

  var command: String
  var options: BenchOptions
  var machine: Machine
  var idle: Idle
  var summaries: [ModeSummary]
  var samples: [Sample]
  /// vigild consuming synthetic records, one window per rate.
  var consumer: [ConsumerCapacity.Sample]
  var durationSeconds: Double

  func summary(_ mode: Mode) -> ModeSummary? { summaries.first { $0.mode == mode } }

  /// Summarizes `samples` per mode, in `modes` order.
  static func summarize(_ samples: [Sample], modes: [Mode]) -> [ModeSummary] {
    let untracedSamples = samples.filter { $0.mode == .untraced }
    let untraced = median(untracedSamples.map(\.rate))
    func paired(_ sample: Sample) -> Double? {
      guard let base = untracedSamples.first(where: { $0.round == sample.round }), base.rate > 0
      else { return nil }
      return sample.rate / base.rate
    }
    return modes.map { mode in
      let own = samples.filter { $0.mode == mode }
      let rates = own.map(\.rate)
      let windows = own.compactMap(\.daemon)
      let daemon =
        windows.isEmpty
        ? nil
        : DaemonSummary(
          medianEventsPerSecond: median(windows.map(\.eventsPerSecond)),
          medianProcessedPerSecond: median(windows.map(\.processedPerSecond)),
          cpuPercent: 100 * windows.map(\.cpuSeconds).reduce(0, +)
            / windows.map(\.seconds).reduce(0, +),
          total: windows.map(\.total).reduce(DaemonCounters(), +),
          maxRssKiB: windows.map(\.rssKiB).max() ?? 0,
          eventsChecked: windows.map(\.eventsChecked).reduce(0, +),
          eventsWithStack: windows.map(\.eventsWithStack).reduce(0, +),
          eventsSymbolized: windows.map(\.eventsSymbolized).reduce(0, +),
          exampleStack: windows.first { !$0.exampleStack.isEmpty }?.exampleStack ?? [])
      return ModeSummary(
        mode: mode, rates: rates, medianRate: median(rates),
        ratioToUntraced: untraced > 0 ? median(rates) / untraced : 0,
        pairedRatio: median(own.compactMap(paired)),
        workloadCPUPercent: median(own.map(\.workloadCPUPercent)),
        maxOtherLoadPercent: own.map(\.otherLoadPercent).max() ?? 0, daemon: daemon)
    }
  }
}

extension DaemonCounters {
  /// The sum of each counter.
  static func + (left: DaemonCounters, right: DaemonCounters) -> DaemonCounters {
    var result = left
    result.records += right.records
    result.received += right.received
    result.processed += right.processed
    result.lostRingBuffer += right.lostRingBuffer
    result.lostQueue += right.lostQueue
    result.stackFailures += right.stackFailures
    return result
  }
}
