import Foundation

/// CPU time of the whole machine, from /proc/stat, to tell how much of a window
/// went to processes that are not part of the benchmark (another build, say).
struct MachineLoad: Sendable {
  /// Busy CPU seconds (user, nice, system, irq, softirq, steal), all CPUs together.
  var busy: Double
  /// Busy plus idle and iowait seconds.
  var total: Double

  static func now() -> MachineLoad {
    let text = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix("cpu ") } ?? ""
    let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    guard fields.count >= 8 else { return MachineLoad(busy: 0, total: 0) }
    let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
    let idle = fields[3] + fields[4]
    return MachineLoad(
      busy: busy / ProcFiles.ticksPerSecond, total: (busy + idle) / ProcFiles.ticksPerSecond)
  }

  /// This process's own user plus system CPU time.
  static func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_utime.seconds + usage.ru_stime.seconds
  }

  /// Busy fraction (0...1) of all CPUs over the next `seconds`.
  static func busyFraction(over seconds: Double) -> Double {
    let start = now()
    Thread.sleep(forTimeInterval: seconds)
    let end = now()
    let total = end.total - start.total
    return total > 0 ? (end.busy - start.busy) / total : 0
  }

  /// Waits (up to `limit` seconds) until the machine is mostly idle, so a window does not
  /// share the CPUs with someone else's work. Returns the seconds spent waiting.
  static func waitForQuiet(threshold: Double = 0.15, limit: Double) -> Double {
    let start = Date()
    var busy = busyFraction(over: 0.3)
    if busy > threshold && limit > 0 {
      Progress.say(
        "machine busy (\(Int(busy * 100))% of all CPUs): waiting up to \(Int(limit)) s for quiet")
      while busy > threshold && Date().timeIntervalSince(start) < limit {
        busy = busyFraction(over: 1)
      }
    }
    return Date().timeIntervalSince(start)
  }
}
