import Foundation

/// Runs one ping-pong window in one mode, with what that mode needs around it, and
/// leaves nothing behind: vigild stopped and its pins removed, tracers stopped.
struct WindowRunner {
  let binaries: Binaries
  let options: BenchOptions
  let workDirectory: String
  let pinPath: String

  /// Recent events checked for stacks after a targeted window.
  private let stackSampleSize = 200

  func run(_ mode: Mode, round: Int) throws -> Sample {
    let daemon =
      mode.runsVigild
      ? try VigilDaemon(
        binary: binaries.vigild, workDirectory: workDirectory, pinPath: pinPath,
        threshold: mode.thresholdOverride)
      : nil
    defer {
      if let daemon {
        daemon.stop()
        VigilDaemon.uninstall(binary: binaries.vigild, pinPath: pinPath)
      }
    }
    let pingPong = try PingPong(
      workload: binaries.workload, pairs: options.pairs, seconds: options.seconds,
      workDirectory: workDirectory)
    defer { if pingPong.process.isRunning { pingPong.process.stop(SIGKILL, grace: 1) } }
    var tracer: Offcputime?
    if mode == .offcputime, let binary = binaries.offcputime {
      tracer = try Offcputime(binary: binary, pid: pingPong.pid, workDirectory: workDirectory)
    }
    defer { tracer?.stop() }
    if mode.targetsPingPong { try daemon?.watch(pid: pingPong.pid) }

    let countersBefore = try daemon?.counters()
    let cpuBefore = daemon?.cpuSeconds ?? 0
    let tracerBefore = tracer.flatMap { ProcFiles.cpuSeconds($0.process.pid) } ?? 0
    let ownBefore = MachineLoad.ownCPUSeconds()
    let loadBefore = MachineLoad.now()
    let started = Date()
    pingPong.start()
    let rate = try pingPong.finish()
    let seconds = Date().timeIntervalSince(started)
    let loadAfter = MachineLoad.now()
    let cpuSeconds = (daemon?.cpuSeconds ?? 0) - cpuBefore
    let tracerSeconds =
      (tracer.flatMap { ProcFiles.cpuSeconds($0.process.pid) } ?? 0) - tracerBefore
    let workloadSeconds = pingPong.process.cpuSeconds ?? 0
    let benchmarkSeconds =
      workloadSeconds + cpuSeconds + tracerSeconds + MachineLoad.ownCPUSeconds() - ownBefore
    let machineSeconds = loadAfter.total - loadBefore.total
    var sample = Sample(
      round: round, mode: mode, rate: rate, workloadCPUPercent: 100 * workloadSeconds / seconds,
      otherLoadPercent: machineSeconds > 0
        ? max(0, 100 * (loadAfter.busy - loadBefore.busy - benchmarkSeconds) / machineSeconds) : 0)
    guard let daemon, let countersBefore else { return sample }

    let countersAfter = try daemon.counters()
    Thread.sleep(forTimeInterval: 0.5)  // the reader polls at least every 100 ms: let it drain
    let countersDrained = try daemon.counters()
    let stacks =
      mode.targetsPingPong ? try daemon.recentStacks(pid: pingPong.pid, limit: stackSampleSize) : []
    let withStack = stacks.filter { !$0.isEmpty }
    // A frame without a symbol reads `module+0xOFFSET` or `0xADDRESS`.
    let symbolized = withStack.filter { $0.contains { !$0.hasPrefix("0x") && !$0.contains("+0x") } }
    let window = DaemonWindow(
      seconds: seconds, cpuSeconds: cpuSeconds, window: countersAfter - countersBefore,
      total: countersDrained - countersBefore, rssKiB: daemon.rssKiB, eventsChecked: stacks.count,
      eventsWithStack: withStack.count, eventsSymbolized: symbolized.count,
      exampleStack: Array((symbolized.first ?? withStack.first ?? []).prefix(4)))
    sample.daemon = window
    return sample
  }
}
