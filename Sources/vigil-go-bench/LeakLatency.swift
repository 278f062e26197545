import Foundation
import GoProcess
import GoroutineModel

/// One setting of the detection-latency benchmark.
struct LeakLatencySetting {
  var name: String
  var interval: Double
  var policy: LeakPolicy
  var runs: Int
}

/// Time from leak start to first report: starts the leak target (Fixtures/goleaks) with its
/// seven leaking sites held back for `leakAfter` seconds, snapshots it every `interval` from
/// the start (as a daemon already watching it would), and notes for each site when the
/// tracker first reports it under `policy`, counted from the "started" time the target wrote.
func leakLatency(target: String, settings: [LeakLatencySetting], leakAfter: Double = 2) throws {
  var table = MarkdownTable(
    "setting", "interval", "parkedThreshold", "growthWindow", "run", "first site reported after",
    "all 7 sites reported after", "snapshots")
  for setting in settings {
    for run in 1...setting.runs {
      note("leak latency: \(setting.name), run \(run) of \(setting.runs)")
      let limit = leakAfter + setting.policy.parkedThresholdSeconds + 3 * setting.interval + 15
      let status = NSTemporaryDirectory() + "vigil-go-bench-leaks-\(getpid())"
      try? FileManager.default.removeItem(atPath: status)
      let child = try Child(
        target,
        [
          "-leak-after", "\(Int(leakAfter * 1000))ms", "-duration", "\(Int(limit) + 5)s",
          "-status", status,
        ])
      defer {
        child.stop()
        try? FileManager.default.removeItem(atPath: status)
      }
      let inspector = try open(child)
      var tracker = GoroutineTracker(pid: child.pid)
      var reported: [String: Int64] = [:]
      var snapshots = 0
      let begin = ContinuousClock.now
      var next = begin
      while reported.count < 7, seconds(ContinuousClock.now - begin) < limit {
        Thread.sleep(forTimeInterval: max(0, seconds(next - ContinuousClock.now)))
        next += .milliseconds(Int(setting.interval * 1000))
        try tracker.update(with: try inspector.snapshot())
        snapshots += 1
        let now = wallNanoseconds()
        for leak in tracker.leaks(policy: setting.policy)
        where reported[leak.creationFunction] == nil {
          reported[leak.creationFunction] = now
        }
      }
      guard let started = startedTime(status) else { fail("\(target) wrote no start time") }
      let after = reported.values.map { Double($0 - started) / 1e9 }.sorted()
      table.add(
        setting.name, "\(format(setting.interval, 0)) s",
        "\(format(setting.policy.parkedThresholdSeconds, 0)) s",
        "\(format(setting.policy.growthWindowSeconds, 0)) s", "\(run)",
        after.first.map { "\(format($0, 1)) s" } ?? "none in \(format(limit, 0)) s",
        after.count == 7 ? "\(format(after.last!, 1)) s" : "\(after.count) of 7 reported",
        "\(snapshots)")
    }
  }
  print("### Time from leak start to first report (7 sites, 10 goroutines/s each)\n")
  table.print()
}

/// Opens the inspector as soon as the child's executable is readable.
private func open(_ child: Child) throws -> GoProcessInspector {
  var attempts = 0
  while true {
    do {
      return try GoProcessInspector(pid: child.pid)
    } catch {
      attempts += 1
      guard attempts < 100 else { throw error }
      Thread.sleep(forTimeInterval: 0.02)
    }
  }
}

/// The "started UNIXNANO" line of the leak target's status file.
private func startedTime(_ path: String) -> Int64? {
  let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
  for line in text.split(separator: "\n") {
    let fields = line.split(separator: " ")
    if fields.count == 2, fields[0] == "started" { return Int64(fields[1]) }
  }
  return nil
}
