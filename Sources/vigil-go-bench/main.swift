// vigil-go-bench: what watching Go processes' goroutines costs, and how fast leaks show.
//
//   vigil-go-bench [--all]
//       builds the Go fixtures (Tests/VigilUnitTests/Fixtures) with the newest installed
//       toolchain and runs every benchmark below with its default settings (about 4–5 minutes),
//       printing markdown tables for BENCHMARKS.md on stdout (progress goes to stderr).
//   vigil-go-bench --snapshot-cost [--counts 1000,10000,100000] [--runs 20] [--depth 64]
//       snapshot time for a target with N goroutines parked on a channel.
//   vigil-go-bench --pingpong [--parked 10000] [--marks 240]
//       what one snapshot costs a channel ping-pong beside N parked goroutines: marks every
//       0.5 s alternate between a snapshot and a placebo; the target's work lost around each
//       is compared (see pingPongSlowdown), giving the slowdown at any snapshot period.
//   vigil-go-bench --leak-latency
//       time from leak start to first leak report: the daemon's defaults (10 s interval,
//       LeakPolicy()), and a 1 s interval with a 5 s threshold.
//   vigil-go-bench --target GOLEAKS [--counts ...] [--runs 20]
//       snapshot cost with an already built leak target.
//   vigil-go-bench --pid PID [--seconds 3]
//       snapshots PID every 250 ms for the given time and prints the groups and leaks.
//
// --go PATH picks the toolchain; --fixtures DIR the Go sources.
import Foundation
import GoProcess
import GoroutineModel

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

/// Kernel release and CPU count, for the tables' context.
func machine() -> String {
  var name = utsname()
  uname(&name)
  let release = withUnsafeBytes(of: &name.release) {
    String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
  }
  return "Linux \(release), \(ProcessInfo.processInfo.activeProcessorCount) CPUs"
}

func runBenchmarks() throws {
  let all = flag("--all") || CommandLine.arguments.count == 1
  let counts = (option("--counts") ?? "1000,10000,100000").split(separator: ",").compactMap {
    Int($0)
  }
  let runs = option("--runs").flatMap(Int.init) ?? 20
  let depth = option("--depth").flatMap(Int.init) ?? 64
  if let target = option("--target") {
    try snapshotCost(target: target, counts: counts, runs: runs, depth: depth)
    return
  }
  let builder = try GoBuilder()
  let started = ContinuousClock.now
  print("Command: `\(CommandLine.arguments.joined(separator: " "))`  ")
  print("Targets built with \(builder.version) (\(builder.go)); \(machine()).\n")
  if all || flag("--snapshot-cost") {
    try snapshotCost(target: try builder.build("goleaks"), counts: counts, runs: runs, depth: depth)
  }
  if all || flag("--pingpong") {
    try pingPongSlowdown(
      target: try builder.build("gopingpong"),
      parked: option("--parked").flatMap(Int.init) ?? 10_000,
      marks: option("--marks").flatMap(Int.init) ?? 240)
  }
  if all || flag("--leak-latency") {
    try leakLatency(
      target: try builder.build("goleaks"),
      settings: [
        LeakLatencySetting(name: "daemon default", interval: 10, policy: LeakPolicy(), runs: 1),
        LeakLatencySetting(
          name: "fast", interval: 1,
          policy: LeakPolicy(parkedThresholdSeconds: 5, growthWindowSeconds: 60), runs: 3),
      ])
  }
  print("Total bench time: \(format(seconds(ContinuousClock.now - started), 0)) s")
}

do {
  if let pid = option("--pid").flatMap(Int32.init) {
    try inspect(pid: pid, seconds: option("--seconds").flatMap(Double.init) ?? 3)
  } else {
    try runBenchmarks()
  }
} catch {
  fail("\(error)")
}
