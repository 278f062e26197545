import Foundation
import Testing

@testable import GoroutineModel

// The goroutine lifecycle model, grouping, leak detection and pprof output, on synthetic
// snapshots: no process, no toolchain.

private func frame(_ function: String, line: Int = 10, pc: UInt64 = 0) -> StackFrame {
  StackFrame(
    pc: pc == 0 ? UInt64(abs(function.hashValue) % 0xffff + 0x401000) : pc, function: function,
    file: "/src/\(StackFrame.package(of: function)).go", line: line)
}

private func goroutine(
  _ goid: Int64, _ status: GoroutineStatus = .waiting, reason: String? = "chan send",
  creator: String = "main.leaker", body: String = "main.body", seq: UInt8 = 0,
  runtimeFrames: [String] = ["runtime.gopark", "runtime.chansend", "runtime.chansend1"]
) -> Goroutine {
  Goroutine(
    goid: goid, status: status, rawStatus: 4, waitReason: status.isParked ? reason : nil,
    creation: frame(creator, line: 42), start: frame(body, line: 1), trackingSeq: seq,
    stack: runtimeFrames.map { frame($0) } + [frame(body, line: 7)])
}

private func at(_ seconds: Double) -> SnapshotTime {
  SnapshotTime(
    monotonicNanoseconds: UInt64(seconds * 1e9) + 1_000_000_000, wallSeconds: 1e9 + seconds)
}

private func snapshot(_ seconds: Double, _ goroutines: [Goroutine], pid: Int32 = 7)
  -> GoroutineSnapshot
{
  GoroutineSnapshot(pid: pid, taken: at(seconds), goroutines: goroutines)
}

@Test func goroutineStateMachineFollowsSnapshots() throws {
  var tracker = GoroutineTracker(pid: 7)
  var first = try tracker.update(with: snapshot(0, [goroutine(1, .runnable), goroutine(2)]))
  #expect(first.count == 2 && first.allSatisfy { $0.from == nil })
  #expect(tracker.goroutines[2]?.parkedSinceNanoseconds == at(0).monotonicNanoseconds)

  // 1 parks; 2 stays parked without running; 3 appears.
  first = try tracker.update(
    with: snapshot(1, [goroutine(1), goroutine(2), goroutine(3, .running)]))
  #expect(
    Set(first.map { "\($0.goid):\($0.from?.description ?? "new")->\($0.to)" }) == [
      "1:runnable->waiting(chan send)", "3:new->running",
    ])
  #expect(tracker.goroutines[2]?.parkedSinceNanoseconds == at(0).monotonicNanoseconds)
  #expect(tracker.goroutines[1]?.parkedSinceNanoseconds == at(1).monotonicNanoseconds)

  // 2 ran in between (trackingSeq moved) and parked again for the same reason; 3 exited.
  let third = try tracker.update(with: snapshot(2, [goroutine(1), goroutine(2, seq: 1)]))
  #expect(third.contains { $0.goid == 2 && $0.from == $0.to })
  #expect(third.contains { $0.goid == 3 && $0.to == .dead })
  #expect(tracker.goroutines[2]?.parkedSinceNanoseconds == at(2).monotonicNanoseconds)
  #expect(tracker.goroutines[3] == nil && tracker.goroutines[2]?.transitions == 1)

  // A changed wait reason restarts the parked time; the runtime's waitsince can push it back.
  var woken = goroutine(1, reason: "select")
  woken.waitingSinceNanoseconds = at(0.5).monotonicNanoseconds
  try tracker.update(with: snapshot(3, [woken]))
  #expect(tracker.goroutines[1]?.parkedSinceNanoseconds == at(0.5).monotonicNanoseconds)
  #expect(tracker.goroutines[1]?.state == GoroutineState(status: .waiting, waitReason: "select"))
}

@Test func trackerRefusesOtherProcessesAndOldSnapshots() throws {
  var tracker = GoroutineTracker(pid: 7)
  try tracker.update(with: snapshot(1, []))
  #expect(throws: GoroutineTrackerError.otherProcess(expected: 7, got: 8)) {
    try tracker.update(with: snapshot(2, [], pid: 8))
  }
  #expect(throws: GoroutineTrackerError.self) { try tracker.update(with: snapshot(1, [])) }
}

@Test func groupsByWaitReasonCreationSiteAndBlockingFrame() throws {
  var tracker = GoroutineTracker(pid: 7)
  try tracker.update(
    with: snapshot(
      0,
      [
        goroutine(1), goroutine(2), goroutine(3, body: "main.other"),
        goroutine(4, reason: "chan receive"), goroutine(5, .running),
      ]))
  let groups = tracker.groups()
  #expect(groups.map(\.count) == [2, 1, 1, 1])
  let largest = try #require(groups.first)
  #expect(largest.key.waitReason == "chan send" && largest.key.blockingFunction == "main.body")
  #expect(largest.key.creationFunction == "main.leaker" && largest.key.creationLine == 42)
  #expect(largest.stack.first?.function == "runtime.gopark")
  // Frames of sync primitives are not the blocking frame.
  let mutex = goroutine(
    6, reason: "sync.Mutex.Lock",
    runtimeFrames: [
      "runtime.gopark", "internal/sync.runtime_SemacquireMutex", "sync.(*Mutex).Lock",
    ])
  #expect(mutex.blockingFrame?.function == "main.body")
  #expect(StackFrame.package(of: "net/http.(*conn).serve") == "net/http")
}

/// Feeds snapshots every 250 ms for `seconds`, each with `goroutines(t)`.
private func track(seconds: Double, _ goroutines: (Double) -> [Goroutine]) throws
  -> GoroutineTracker
{
  var tracker = GoroutineTracker(pid: 7)
  for step in 0...Int(seconds * 4) {
    let t = Double(step) / 4
    try tracker.update(with: snapshot(t, goroutines(t)))
  }
  return tracker
}

@Test func growingParkedGroupIsALeakAndHealthyOnesAreNot() throws {
  let policy = LeakPolicy(parkedThresholdSeconds: 1, growthWindowSeconds: 10)
  let tracker = try track(seconds: 3) { t in
    // Leaks 4 a second; a pool of 8 idle on a job channel; a ticker loop that runs each
    // snapshot; sleeping goroutines that grow; runtime goroutines that grow.
    let leaked = (0..<(4 + Int(t * 4))).map { goroutine(Int64(100 + $0)) }
    let pool = (0..<8).map {
      goroutine(
        Int64(10 + $0), reason: "chan receive", creator: "main.startPool", body: "main.worker")
    }
    let ticker = goroutine(
      20, reason: "chan receive", creator: "main.main", body: "main.tick", seq: UInt8(t * 4))
    let sleepers = (0..<(1 + Int(t * 4))).map {
      goroutine(Int64(1000 + $0), reason: "sleep", creator: "main.sleepy", body: "main.nap")
    }
    let runtime = (0..<(1 + Int(t * 2))).map {
      goroutine(
        Int64(2000 + $0), reason: "chan receive", creator: "runtime.gcenable",
        body: "runtime.bgsweep")
    }
    return leaked + pool + [ticker] + sleepers + runtime
  }
  let leaks = tracker.leaks(policy: policy)
  #expect(leaks.count == 1)
  let leak = try #require(leaks.first)
  #expect(leak.creationFunction == "main.leaker" && leak.waitReason == "chan send")
  #expect(leak.count == 16 && leak.growing && !leak.confirmed)
  #expect(leak.parkedSeconds == 3 && leak.blockingFunction == "main.body")

  // Growing but not yet parked long enough: not reported.
  #expect(tracker.leaks(policy: LeakPolicy(parkedThresholdSeconds: 5)).isEmpty)
  // A group that stopped growing is not reported.
  let stable = try track(seconds: 3) { _ in (0..<10).map { goroutine(Int64($0)) } }
  #expect(stable.leaks(policy: policy).isEmpty)
}

@Test func runtimeMarkedLeaksAreConfirmed() throws {
  let tracker = try track(seconds: 0.5) { _ in [goroutine(1, .leaked), goroutine(2, .leaked)] }
  let leaks = tracker.leaks(policy: LeakPolicy(parkedThresholdSeconds: 60))
  #expect(leaks.count == 1 && leaks.first?.confirmed == true && leaks.first?.count == 2)
}

@Test func leakReportJSONHasExactlyTheDocumentedKeys() throws {
  let report = LeakReport(
    pid: 9, creationFunction: "main.leak", creationFile: "/src/main.go", creationLine: 3,
    waitReason: "chan send", count: 5, parkedSeconds: 1.5, blockingFunction: nil, growing: true,
    confirmed: false)
  let object = try #require(
    try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
  #expect(
    Set(object.keys) == [
      "pid", "creationFunction", "creationFile", "creationLine", "waitReason", "count",
      "parkedSeconds", "blockingFunction", "growing", "confirmed",
    ])
  #expect(object["blockingFunction"] is NSNull && object["waitReason"] as? String == "chan send")
  #expect(try JSONDecoder().decode(LeakReport.self, from: JSONEncoder().encode(report)) == report)
}

/// A protobuf reader for the test: each field number to its values (varints or bytes).
private func fields(_ bytes: [UInt8]) throws -> [Int: [Any]] {
  var result: [Int: [Any]] = [:]
  var index = 0
  func varint() throws -> UInt64 {
    var (value, shift) = (UInt64(0), UInt64(0))
    while true {
      guard index < bytes.count, shift < 64 else { throw GoFixtureError(description: "varint") }
      let byte = bytes[index]
      index += 1
      value |= UInt64(byte & 0x7f) << shift
      if byte < 0x80 { return value }
      shift += 7
    }
  }
  while index < bytes.count {
    let key = try varint()
    switch key & 7 {
    case 0: result[Int(key >> 3), default: []].append(try varint())
    case 2:
      let length = Int(try varint())
      result[Int(key >> 3), default: []].append(Array(bytes[index..<index + length]))
      index += length
    default: throw GoFixtureError(description: "wire type \(key & 7)")
    }
  }
  return result
}

func sampleGroups() throws -> (GoroutineTracker, [GoroutineGroup]) {
  var tracker = GoroutineTracker(pid: 7)
  try tracker.update(
    with: snapshot(
      0, [goroutine(1), goroutine(2), goroutine(3, reason: "select", body: "main.sel")]))
  return (tracker, tracker.groups())
}

@Test func goroutineProfileEncodesGroupsAsSamples() throws {
  let (_, groups) = try sampleGroups()
  let profile = try fields(GoroutineProfile.encode(groups: groups, time: at(0)))
  let strings = (profile[6] ?? []).map { String(decoding: $0 as! [UInt8], as: UTF8.self) }
  #expect(strings.first == "" && strings.contains("goroutine") && strings.contains("main.body"))
  let samples = try (profile[2] ?? []).map { try fields($0 as! [UInt8]) }
  #expect(samples.count == 2)
  // Packed values: a single one-byte varint each.
  let values = samples.map { ($0[2]!.first as! [UInt8]) }
  #expect(values.sorted { $0.first! < $1.first! } == [[1], [2]])
  let locations = samples.map { ($0[1]!.first as! [UInt8]).count }
  #expect(locations == [4, 4])
  // 4 frames each, sharing the runtime frames' locations.
  #expect((profile[4] ?? []).count == 5 && (profile[5] ?? []).count == 5)
  let sampleType = try fields(profile[1]!.first as! [UInt8])
  #expect(strings[Int(sampleType[1]!.first as! UInt64)] == "goroutine")
  #expect(strings[Int(sampleType[2]!.first as! UInt64)] == "count")
}

@Test(.enabled(if: !GoToolchain.all.isEmpty, GoToolchain.skipMessage))
func goToolPprofReadsTheGoroutineProfile() async throws {
  let (_, groups) = try sampleGroups()
  let path = "\(goFixtureRoot)/goroutines.pb"
  try Data(GoroutineProfile.encode(groups: groups, time: at(0))).write(
    to: URL(fileURLWithPath: path))
  let toolchain = try #require(GoToolchain.all.last)
  let output = try await GoFixtures.run(toolchain.go, ["tool", "pprof", "-top", path])
  #expect(output.contains("main.body") && output.contains("main.sel"), "\(output)")
  #expect(output.contains("goroutine"), "\(output)")
}

/// Frames keep function, file and line in a shared box: copies, setters, equality, hashing and
/// JSON behave as for plain fields.
@Test func stackFramesBehaveAsValues() throws {
  let frame = StackFrame(pc: 0x401000, function: "main.worker", file: "/src/main.go", line: 12)
  var moved = frame
  moved.line = 13
  #expect(frame.line == 12 && moved.line == 13 && moved.function == "main.worker")
  #expect(moved != frame)
  moved.line = 12
  #expect(moved == frame && moved.hashValue == frame.hashValue)
  let bare = StackFrame(pc: 0x10, function: nil)
  #expect(bare.function == nil && bare.file == nil && bare.line == nil)
  let json = try JSONEncoder().encode([frame, bare])
  #expect(try JSONDecoder().decode([StackFrame].self, from: json) == [frame, bare])
  let keys = try #require(
    try JSONSerialization.jsonObject(with: JSONEncoder().encode(bare)) as? [String: Any])
  #expect(Set(keys.keys) == ["pc"])
}

// MARK: Trace sessions

private func change(
  _ goid: Int64, _ from: GoroutineState, _ to: GoroutineState, at seconds: Double
) -> ObservedStatusChange {
  ObservedStatusChange(
    goid: goid, from: from, to: to, monotonicNanoseconds: at(seconds).monotonicNanoseconds,
    tid: 100)
}

private let running = GoroutineState(status: .running)
private let runnable = GoroutineState(status: .runnable)
private let sending = GoroutineState(status: .waiting, waitReason: "chan send")

@Test func traceChangesMoveTheStateMachines() throws {
  var tracker = GoroutineTracker(pid: 7)
  try tracker.update(with: snapshot(0, [goroutine(1, .runnable), goroutine(2), goroutine(3)]))
  let applied = tracker.apply([
    change(1, runnable, running, at: 0.1),
    change(1, running, sending, at: 0.2),
    change(2, sending, runnable, at: 0.3),
    change(3, sending, .dead, at: 0.4),
    change(9, .dead, runnable, at: 0.5),  // created during the session: left to the next snapshot
  ])
  #expect(applied.map(\.goid) == [1, 1, 2, 3])
  #expect(tracker.goroutines[1]?.state == sending && tracker.goroutines[1]?.transitions == 2)
  #expect(tracker.goroutines[1]?.parkedSinceNanoseconds == at(0.2).monotonicNanoseconds)
  #expect(tracker.goroutines[2]?.state == runnable)
  #expect(tracker.goroutines[2]?.parkedSinceNanoseconds == nil)
  #expect(tracker.goroutines[3] == nil && tracker.goroutines[9] == nil)
  // The next snapshot goes on from the traced states.
  let next = try tracker.update(
    with: snapshot(1, [goroutine(1, seq: 1), goroutine(2, .runnable), goroutine(9, .running)]))
  #expect(Set(next.map(\.goid)) == [1, 9])
}

@Test func traceSummaryCountsChangesByKindAndGoroutine() {
  let summary = StatusTraceSummary(
    [
      change(1, running, sending, at: 0.1), change(1, sending, runnable, at: 0.2),
      change(1, runnable, running, at: 0.3), change(1, running, sending, at: 0.4),
      change(2, runnable, running, at: 0.5),
    ], limit: 2)
  #expect(summary.changes == 5 && summary.goroutines == 2)
  // Ties in count go by name.
  #expect(
    summary.byChange.map { "\($0.from)>\($0.to)=\($0.count)" } == [
      "runnable>running=2", "running>waiting(chan send)=2",
    ])
  #expect(summary.busiest.map(\.goroutine) == [1, 2])
  #expect(summary.busiest[0].changes == 4 && summary.busiest[0].lastState == "waiting(chan send)")
}
