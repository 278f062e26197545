import Foundation
import GoProcess
import GoroutineModel

/// Snapshot time for targets with `counts` goroutines parked on a channel: the first snapshot
/// (which walks every stack), then the median, p90 and max of the next `runs - 1`, which reuse
/// the stacks of goroutines that have not run since; and the median time the tracker (the
/// lifecycle model vigild feeds every snapshot) takes to take one in.
func snapshotCost(target: String, counts: [Int], runs: Int, depth: Int) throws {
  var table = MarkdownTable(
    "goroutines", "first snapshot (ms)", "median (ms)", "p90 (ms)", "max (ms)", "snapshots",
    "goroutines seen", "tracker update, median (ms)")
  for count in counts {
    note("snapshot cost: parking \(count) goroutines")
    let status = NSTemporaryDirectory() + "vigil-go-bench-status-\(getpid())"
    try? FileManager.default.removeItem(atPath: status)
    let child = try Child(target, ["-park", "\(count)", "-duration", "120s", "-status", status])
    defer {
      child.stop()
      try? FileManager.default.removeItem(atPath: status)
    }
    let deadline = Date().addingTimeInterval(60)
    while (try? String(contentsOfFile: status, encoding: .utf8))?.hasPrefix("parked") != true {
      guard Date() < deadline, child.process.isRunning else {
        fail("\(target) did not park \(count)")
      }
      Thread.sleep(forTimeInterval: 0.05)
    }
    let inspector = try GoProcessInspector(pid: child.pid, limits: .init(maxStackDepth: depth))
    var tracker = GoroutineTracker(pid: child.pid)
    var times: [Double] = []
    var updates: [Double] = []
    var seen = 0
    for _ in 0..<max(2, runs) {
      let start = ContinuousClock.now
      let snapshot = try inspector.snapshot()
      times.append(milliseconds(start))
      seen = snapshot.goroutines.count
      let updating = ContinuousClock.now
      try tracker.update(with: snapshot)
      updates.append(milliseconds(updating))
    }
    let rest = Array(times.dropFirst())
    table.add(
      "\(count)", format(times[0]), format(quantile(rest, 0.5)), format(quantile(rest, 0.9)),
      format(rest.max()!), "1 + \(rest.count)", "\(seen)",
      format(quantile(Array(updates.dropFirst()), 0.5)))
  }
  print("### Snapshot cost (goroutines parked on a channel send)\n")
  table.print()
}
