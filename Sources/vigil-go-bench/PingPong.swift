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

  /// The round-trip total at wall-clock time `time` (nanoseconds), interpolated between the two
  /// samples around it; nil outside the samples.
  func total(at time: Int64) -> Double? {
    lock.withLock {
      guard let after = samples.firstIndex(where: { $0.nanoseconds >= time }), after > 0 else {
        return nil
      }
      let (a, b) = (samples[after - 1], samples[after])
      let fraction = Double(time - a.nanoseconds) / Double(b.nanoseconds - a.nanoseconds)
      return Double(a.total) + fraction * Double(b.total - a.total)
    }
  }

  /// Round trips per second over [start, end] (wall-clock nanoseconds).
  func rate(from start: Int64, to end: Int64) -> Double? {
    guard let first = total(at: start), let last = total(at: end), end > start else { return nil }
    return (last - first) / (Double(end - start) / 1e9)
  }
}

/// What one mark of the slowdown benchmark measured: how much of the target's work went
/// missing around it, in milliseconds of the target's own pace.
private struct MarkEffect {
  var snapshot: Bool
  var lostMilliseconds: Double
  var wallMilliseconds: Double
}

/// Target slowdown: a channel ping-pong (Fixtures/gopingpong, beside `parked` goroutines parked
/// forever) watched by an inspector that snapshots it and feeds a tracker, as the daemon does.
///
/// Whole windows with and without snapshots differ by far more than a snapshot costs on this
/// shared machine (±10% between windows), so the cost is measured where it happens: marks every
/// `spacing` seconds alternate between a snapshot and a placebo (nothing done, same length). For
/// each mark, the round trips the target completed from 10 ms before to 10 ms after it are
/// compared with what its pace in the 200 ms on either side predicts; the shortfall, in
/// milliseconds of target time, is the work lost. Snapshot marks minus placebo marks is the
/// cost of one snapshot to the target, and that over the snapshot period is the slowdown.
func pingPongSlowdown(target: String, parked: Int, marks: Int, spacing: Double = 0.5) throws {
  let pipe = Pipe()
  let runSeconds = Int(Double(marks) * spacing) + 30
  let child = try Child(
    target, ["-park", "\(parked)", "-report", "5ms", "-duration", "\(runSeconds)s"], stdout: pipe)
  defer { child.stop() }
  let log = RoundTripLog()
  log.follow(pipe)
  Thread.sleep(forTimeInterval: 2)  // started, parked and warm
  let inspector = try GoProcessInspector(pid: child.pid)
  var tracker = GoroutineTracker(pid: child.pid)
  // Steady state: the first snapshot (which walks every stack) happens once, before measuring.
  try tracker.update(with: try inspector.snapshot())
  note("ping-pong: \(marks) marks \(spacing) s apart, snapshots and placebos alternating")

  var windows: [(snapshot: Bool, start: Int64, end: Int64)] = []
  var snapshotCPU: [Double] = []
  var lastLength: Int64 = 1_000_000
  var next = ContinuousClock.now + .milliseconds(300)
  for mark in 0..<marks {
    Thread.sleep(forTimeInterval: max(0, seconds(next - ContinuousClock.now)))
    next += .milliseconds(Int(spacing * 1000))
    let start = wallNanoseconds()
    if mark % 2 == 0 {
      let cpu = threadCPUNanoseconds()
      try tracker.update(with: try inspector.snapshot())
      snapshotCPU.append(Double(threadCPUNanoseconds() - cpu) / 1e6)
      lastLength = wallNanoseconds() - start
      windows.append((true, start, start + lastLength))
    } else {
      windows.append((false, start, start + lastLength))
    }
  }
  Thread.sleep(forTimeInterval: 0.5)  // the target prints past the last mark

  let margin: Int64 = 10_000_000
  let side: Int64 = 200_000_000
  var effects: [MarkEffect] = []
  var paces: [Double] = []
  for window in windows {
    let (from, to) = (window.start - margin, window.end + margin)
    guard let before = log.rate(from: from - side, to: from),
      let after = log.rate(from: to, to: to + side),
      let first = log.total(at: from), let last = log.total(at: to)
    else { fail("the ping-pong target printed no totals around a mark (pid \(child.pid))") }
    let pace = (before + after) / 2
    let expected = pace * Double(to - from) / 1e9
    paces.append(pace)
    effects.append(
      MarkEffect(
        snapshot: window.snapshot, lostMilliseconds: (expected - (last - first)) / pace * 1e3,
        wallMilliseconds: Double(window.end - window.start) / 1e6))
  }

  let snapshots = effects.filter(\.snapshot).map(\.lostMilliseconds)
  let placebos = effects.filter { !$0.snapshot }.map(\.lostMilliseconds)
  let cost = mean(snapshots) - mean(placebos)
  let error = (standardError(snapshots).squared + standardError(placebos).squared).squareRoot()
  let upper = cost + 2 * error
  print("### Target slowdown: channel ping-pong beside \(parked) parked goroutines\n")
  var table = MarkdownTable(
    "marks", "target pace (median)", "snapshot wall ms (median)", "snapshot CPU ms (median)",
    "work lost at a snapshot", "at a placebo", "cost of one snapshot (± 2 s.e.)",
    "slowdown, snapshots every 10 s", "every 1 s")
  table.add(
    "\(snapshots.count) + \(placebos.count)", "\(format(quantile(paces, 0.5), 0)) round trips/s",
    format(quantile(effects.filter(\.snapshot).map(\.wallMilliseconds), 0.5)),
    format(quantile(snapshotCPU, 0.5)),
    "\(format(mean(snapshots))) ms", "\(format(mean(placebos))) ms",
    "\(format(cost)) ± \(format(2 * error)) ms",
    "\(format(cost / 100, 4))% (≤ \(format(upper / 100, 4))%)",
    "\(format(cost / 10, 3))% (≤ \(format(upper / 10, 3))%)")
  table.print()
}

private func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }

private func standardError(_ values: [Double]) -> Double {
  let average = mean(values)
  let variance =
    values.reduce(0) { $0 + ($1 - average) * ($1 - average) } / Double(values.count - 1)
  return (variance / Double(values.count)).squareRoot()
}

extension Double {
  fileprivate var squared: Double { self * self }
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), in nanoseconds.
func threadCPUNanoseconds() -> Int64 {
  var now = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
  return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
