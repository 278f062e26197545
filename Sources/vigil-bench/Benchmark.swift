import Foundation

/// The whole run: vigild's idle footprint, then interleaved rounds of every mode.
struct Benchmark {
  let options: BenchOptions
  let binaries: Binaries
  let workDirectory: String
  let pinPath: String

  var modes: [Mode] { Mode.allCases.filter { $0 != .offcputime || binaries.offcputime != nil } }

  func run(command: String) throws -> Results {
    let started = Date()
    var quietBudget = options.quietWait
    quietBudget -= MachineLoad.waitForQuiet(limit: quietBudget)
    let idle = try measureIdle()
    let runner = WindowRunner(
      binaries: binaries, options: options, workDirectory: workDirectory, pinPath: pinPath)
    var samples: [Sample] = []
    for round in stride(from: 1, through: options.rounds, by: 1) {
      // Rotate the order each round so no mode always follows the same one.
      let shift = (round - 1) % modes.count
      for mode in modes[shift...] + modes[..<shift] {
        quietBudget -= MachineLoad.waitForQuiet(limit: quietBudget)
        let sample = try runner.run(mode, round: round)
        samples.append(sample)
        Progress.say("round \(round)/\(options.rounds) \(mode.rawValue): \(Self.describe(sample))")
      }
    }
    var consumer: [ConsumerCapacity.Sample] = []
    if !options.consumerRates.isEmpty {
      quietBudget -= MachineLoad.waitForQuiet(limit: quietBudget)
      consumer = try ConsumerCapacity(
        binaries: binaries, workDirectory: workDirectory, pinPath: pinPath
      ).run(rates: options.consumerRates, seconds: options.seconds)
    }
    return Results(
      command: command, options: options, machine: .current(), idle: idle,
      summaries: samples.isEmpty ? [] : Results.summarize(samples, modes: modes),
      samples: samples, consumer: consumer,
      durationSeconds: Date().timeIntervalSince(started))
  }

  /// vigild on its embedded default, nothing of this benchmark targeted: RSS and CPU after idling.
  private func measureIdle() throws -> Results.Idle {
    Progress.say("idle: vigild on its embedded default for \(options.idleSeconds) s")
    let daemon = try VigilDaemon(
      binary: binaries.vigild, workDirectory: workDirectory, pinPath: pinPath)
    defer {
      daemon.stop()
      VigilDaemon.uninstall(binary: binaries.vigild, pinPath: pinPath)
    }
    let cpuBefore = daemon.cpuSeconds
    Thread.sleep(forTimeInterval: options.idleSeconds)
    let idle = Results.Idle(
      seconds: options.idleSeconds, rssKiB: daemon.rssKiB,
      cpuPercent: 100 * (daemon.cpuSeconds - cpuBefore) / options.idleSeconds)
    Progress.say("idle: RSS \(idle.rssKiB) KiB, CPU \(String(format: "%.2f", idle.cpuPercent))%")
    return idle
  }

  private static func describe(_ sample: Sample) -> String {
    var text = "\(Int(sample.rate)) round trips/s (workload CPU \(Int(sample.workloadCPUPercent))%"
    text += ", other load \(Int(sample.otherLoadPercent))% of all CPUs)"
    if let daemon = sample.daemon {
      text += String(
        format: "; vigild %.0f events/s, CPU %.1f%%, lost %llu, RSS %d KiB", daemon.eventsPerSecond,
        daemon.cpuPercent, daemon.total.lost, daemon.rssKiB)
    }
    return text
  }
}
