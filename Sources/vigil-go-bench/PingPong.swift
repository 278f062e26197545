import Foundation
import GoProcess
import GoroutineModel

/// The running round-trip total the ping-pong target prints, with its wall-clock times.
final class RoundTripLog: @unchecked Sendable {
  private let lock = NSLock()
  private var samples: [(nanoseconds: Int64, total: UInt64)] = []

  /// Reads "UNIXNANO TOTAL" lines from `pipe` on its own thread until the pipe closes.
  func follow(_ pipe: Pipe) {
    let thread = Thread { [self] in
      var pending = Data()
      while true {
        let data = pipe.fileHandleForReading.availableData
        guard !data.isEmpty else { return }
        pending.append(data)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
          let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
          pending.removeSubrange(pending.startIndex...newline)
          let fields = line.split(separator: " ")
          guard fields.count == 2, let time = Int64(fields[0]), let total = UInt64(fields[1])
          else { continue }
          lock.withLock { samples.append((time, total)) }
        }
      }
    }
    thread.start()
  }

  /// Round trips per second between the first sample at or after `start` and the last one at
  /// or before `end` (wall-clock nanoseconds).
  func rate(from start: Int64, to end: Int64) -> Double? {
    lock.withLock {
      guard let first = samples.first(where: { $0.nanoseconds >= start }),
        let last = samples.last(where: { $0.nanoseconds <= end }),
        last.nanoseconds > first.nanoseconds
      else { return nil }
      return Double(last.total - first.total) / (Double(last.nanoseconds - first.nanoseconds) / 1e9)
    }
  }
}

/// One setting of the slowdown benchmark: snapshots every `period` seconds during the "on"
/// windows of `window` seconds, alternated with as many "off" windows.
struct PingPongSetting {
  var period: Double
  var window: Double
  var pairs: Int
}

/// Target slowdown: a channel ping-pong (Fixtures/gopingpong, with `parked` more goroutines
/// parked) measured over alternating windows with and without an inspector snapshotting it (and
/// feeding a tracker, as the daemon does). Each pair runs its two windows in alternating order
/// (off-on, on-off, ...), so drift in the machine's load cancels out.
func pingPongSlowdown(target: String, parked: Int, settings: [PingPongSetting]) throws {
  let total = settings.reduce(0.0) { $0 + 2 * $1.window * Double($1.pairs) } + 30
  let pipe = Pipe()
  let child = try Child(
    target, ["-park", "\(parked)", "-report", "50ms", "-duration", "\(Int(total))s"], stdout: pipe)
  defer { child.stop() }
  let log = RoundTripLog()
  log.follow(pipe)
  Thread.sleep(forTimeInterval: 2)  // started, parked and warm
  let inspector = try GoProcessInspector(pid: child.pid)
  var tracker = GoroutineTracker(pid: child.pid)
  // Steady state: the first snapshot (which walks every stack) happens once, before measuring.
  try tracker.update(with: try inspector.snapshot())
  var table = MarkdownTable(
    "snapshot every", "window", "pairs", "off: round trips/s (median)",
    "on: round trips/s (median)",
    "on/off (median of pairs)", "on/off (min … max)", "snapshot + tracker: wall ms",
    "CPU ms (medians)")
  for setting in settings {
    note(
      "ping-pong: snapshots every \(setting.period) s, \(setting.pairs) pairs of \(setting.window) s windows"
    )
    var (off, on, ratios, snapshotTimes) = ([Double](), [Double](), [Double](), [Double]())
    var snapshotCPU: [Double] = []
    for pair in 0..<setting.pairs {
      var rates: [Bool: Double] = [:]
      for snapshotting in pair % 2 == 0 ? [false, true] : [true, false] {
        let start = wallNanoseconds()
        let began = ContinuousClock.now
        let end = began + .milliseconds(Int(setting.window * 1000))
        if snapshotting {
          // Snapshots mid-period, away from the window's edges.
          var next = began + .milliseconds(Int(setting.period * 500))
          while next < end {
            Thread.sleep(forTimeInterval: max(0, seconds(next - ContinuousClock.now)))
            let (taken, cpu) = (ContinuousClock.now, threadCPUNanoseconds())
            try tracker.update(with: try inspector.snapshot())
            snapshotTimes.append(milliseconds(taken))
            snapshotCPU.append(Double(threadCPUNanoseconds() - cpu) / 1e6)
            next += .milliseconds(Int(setting.period * 1000))
          }
        }
        Thread.sleep(forTimeInterval: max(0, seconds(end - ContinuousClock.now)))
        Thread.sleep(forTimeInterval: 0.1)  // let the target print the window's last total
        guard let rate = log.rate(from: start, to: start + Int64(setting.window * 1e9)) else {
          fail("the ping-pong target printed no totals (pid \(child.pid))")
        }
        rates[snapshotting] = rate
      }
      off.append(rates[false]!)
      on.append(rates[true]!)
      ratios.append(rates[true]! / rates[false]!)
    }
    table.add(
      "\(format(setting.period, 0)) s", "\(format(setting.window, 0)) s", "\(setting.pairs)",
      format(quantile(off, 0.5), 0), format(quantile(on, 0.5), 0), format(quantile(ratios, 0.5), 4),
      "\(format(ratios.min()!, 3)) … \(format(ratios.max()!, 3))",
      format(quantile(snapshotTimes, 0.5)), format(quantile(snapshotCPU, 0.5)))
  }
  print("### Target slowdown: channel ping-pong beside \(parked) parked goroutines\n")
  table.print()
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), in nanoseconds.
func threadCPUNanoseconds() -> Int64 {
  var now = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
  return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
