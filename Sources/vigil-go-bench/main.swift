// vigil-go-bench: the cost of a goroutine snapshot, and a look at one process.
//
//   vigil-go-bench --target GOLEAKS [--counts 1000,10000,100000] [--runs 20]
//       starts GOLEAKS (Tests/VigilUnitTests/Fixtures/goleaks built by any toolchain) with
//       -park N for each N, and prints the snapshot time per N: the first snapshot (which walks
//       every stack), then median, p90 and max of the following ones (which reuse the stacks of
//       goroutines that have not run since).
//   vigil-go-bench --pid PID [--seconds 3]
//       snapshots PID every 250 ms for the given time and prints the groups and leaks.
import Foundation
import GoProcess
import GoroutineModel

func option(_ name: String) -> String? {
  let arguments = CommandLine.arguments
  guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
  return arguments[index + 1]
}

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("vigil-go-bench: \(message)\n".utf8))
  exit(1)
}

func milliseconds(_ start: ContinuousClock.Instant) -> Double {
  let elapsed = ContinuousClock.now - start
  return Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15
}

func inspect(pid: Int32, seconds: Double) throws {
  let inspector = try GoProcessInspector(pid: pid)
  print(
    "pid \(pid) \(inspector.executable) \(inspector.goVersion ?? "?") offsets from \(inspector.offsetsSource)"
  )
  var tracker = GoroutineTracker(pid: pid)
  let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
  var last: GoroutineSnapshot?
  while ContinuousClock.now < end {
    let snapshot = try inspector.snapshot()
    try tracker.update(with: snapshot)
    last = snapshot
    Thread.sleep(forTimeInterval: 0.25)
  }
  if let last {
    print(
      "\(last.goroutines.count) goroutines, \(last.deadCount) dead, \(last.droppedCount) dropped, \(last.threads.count) threads"
    )
  }
  for group in tracker.groups() {
    let parked = group.oldestParkedSeconds.map { String(format: " parked %.1fs", $0) } ?? ""
    print("\(group.count) \(group.key)\(parked)")
  }
  let policy = LeakPolicy(parkedThresholdSeconds: 1, growthWindowSeconds: 60)
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys]
  for leak in tracker.leaks(policy: policy) {
    print(String(decoding: try encoder.encode(leak), as: UTF8.self))
  }
}

func benchmark(target: String, counts: [Int], runs: Int) throws {
  print(
    "goroutines  first_ms  median_ms  p90_ms  max_ms  (\(runs) snapshots each; first walks every stack)"
  )
  for count in counts {
    let status = NSTemporaryDirectory() + "vigil-go-bench-\(getpid())"
    try? FileManager.default.removeItem(atPath: status)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: target)
    process.arguments = ["-park", "\(count)", "-duration", "120s", "-status", status]
    try process.run()
    defer {
      process.terminate()
      process.waitUntilExit()
      try? FileManager.default.removeItem(atPath: status)
    }
    let deadline = Date().addingTimeInterval(60)
    while (try? String(contentsOfFile: status, encoding: .utf8))?.hasPrefix("parked") != true {
      guard Date() < deadline, process.isRunning else { fail("\(target) did not park \(count)") }
      Thread.sleep(forTimeInterval: 0.05)
    }
    let depth = option("--depth").flatMap(Int.init) ?? 64
    let inspector = try GoProcessInspector(
      pid: process.processIdentifier, limits: .init(maxStackDepth: depth))
    var times: [Double] = []
    var seen = 0
    var first = 0.0
    for _ in 0..<runs {
      let start = ContinuousClock.now
      let snapshot = try inspector.snapshot()
      times.append(milliseconds(start))
      seen = snapshot.goroutines.count
      if times.count == 1 { first = times[0] }
    }
    times.sort()
    print(
      String(
        format: "%10d  %8.2f  %9.2f  %6.2f  %6.2f  (saw %d)", count, first, times[times.count / 2],
        times[times.count * 9 / 10], times.last!, seen))
  }
}

do {
  if let pid = option("--pid").flatMap(Int32.init) {
    try inspect(pid: pid, seconds: option("--seconds").flatMap(Double.init) ?? 3)
  } else if let target = option("--target") {
    let counts = (option("--counts") ?? "1000,10000,100000").split(separator: ",").compactMap {
      Int($0)
    }
    try benchmark(target: target, counts: counts, runs: option("--runs").flatMap(Int.init) ?? 20)
  } else {
    fail("usage: vigil-go-bench --target GOLEAKS [--counts N,...] | --pid PID [--seconds S]")
  }
} catch {
  fail("\(error)")
}
