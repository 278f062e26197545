import ControlAPI
import Foundation
import Symbolization
import Testing

@testable import Agent
@testable import BlockingModel

/// Episodes turned into the documented event JSON.
@Suite struct EventFormatterTests {
  /// 2026-11-27T05:09:01Z, seconds since the epoch.
  static let wallSeconds: Int64 = 1_795_756_141
  /// CLOCK_MONOTONIC at the episode's start: 12345.678901234 s.
  static let start: UInt64 = 12_345_678_901_234
  /// Realtime - monotonic so that `start` is 2026-11-27T05:09:01.123456789Z.
  static let offset: Int64 = wallSeconds * 1_000_000_000 + 123_456_789 - Int64(start)

  static let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
  static let frames = [
    Frame(
      address: 0x7f12_3456_7000, function: "__futex_abstimed_wait_common", offset: 0x3c,
      module: libc),
    Frame(address: 0x7f12_3450_001f, function: nil, offset: 0x1f, module: libc),
    Frame(address: 0x5555_0000_1234, function: "main", offset: 0x10, module: "/opt/app/bin/server"),
    Frame(address: 0x7fff_dead_beef, function: nil, offset: 0x7fff_dead_beef, module: nil),
  ]

  static func offcpu(stack: [UInt64] = frames.map(\.address)) -> BlockingEpisode {
    BlockingEpisode(
      kind: .offcpu, pid: 4242, tid: 4243, targetID: 1, comm: "worker",
      startMonotonicNanoseconds: start, durationNanoseconds: 250_000_000, state: .uninterruptible,
      waker: Waker(pid: 900, tid: 901, comm: "kworker/0:1"), futex: nil, stack: stack,
      stackError: nil)
  }

  static func futex(operation: UInt32 = 9 | 128 | 256, outcome: FutexWait.Outcome = .timedOut)
    -> BlockingEpisode
  {
    BlockingEpisode(
      kind: .futex, pid: 4242, tid: 4244, targetID: 1, comm: "db-writer",
      startMonotonicNanoseconds: start, durationNanoseconds: 1_500_000_000, state: nil, waker: nil,
      futex: FutexWait(
        address: 0x7ffd_1234_abc0, operation: operation, syscall: .futex, returnValue: -110,
        outcome: outcome),
      stack: [], stackError: nil)
  }

  /// The JSON line parsed into a dictionary.
  static func object(_ line: String) throws -> [String: Any] {
    let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
    return try #require(parsed as? [String: Any])
  }

  @Test func offcpuLineHasTheDocumentedKeys() throws {
    let formatter = EventFormatter()
    let event = formatter.event(
      for: Self.offcpu(), frames: Self.frames, wallClockOffset: Self.offset)
    let line = formatter.line(event)
    #expect(!line.contains("\n"))
    let object = try Self.object(line)
    #expect(
      Set(object.keys)
        == [
          "time", "kind", "pid", "tid", "comm", "durationNs", "state", "waker", "stack", "frames",
        ])
    #expect(object["time"] as? String == "2026-11-27T05:09:01.123456789Z")
    #expect(object["kind"] as? String == "offcpu")
    #expect(object["pid"] as? Int == 4242)
    #expect(object["tid"] as? Int == 4243)
    #expect(object["comm"] as? String == "worker")
    #expect(object["durationNs"] as? Int == 250_000_000)
    #expect(object["state"] as? String == "uninterruptible")
    let waker = try #require(object["waker"] as? [String: Any])
    #expect(waker["pid"] as? Int == 900)
    #expect(waker["tid"] as? Int == 901)
    #expect(waker["comm"] as? String == "kworker/0:1")
    #expect(object["futex"] == nil)
  }

  @Test func futexLineHasOutcomeOpAndHexAddress() throws {
    let formatter = EventFormatter()
    let event = formatter.event(for: Self.futex(), frames: [], wallClockOffset: Self.offset)
    let object = try Self.object(formatter.line(event))
    #expect(object["kind"] as? String == "futex")
    #expect(object["state"] == nil)
    #expect(object["waker"] == nil)
    #expect(object["durationNs"] as? Int == 1_500_000_000)
    let futex = try #require(object["futex"] as? [String: Any])
    #expect(Set(futex.keys) == ["outcome", "op", "uaddr"])
    #expect(futex["outcome"] as? String == "timedOut")
    #expect(futex["op"] as? String == "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME")
    #expect(futex["uaddr"] as? String == "0x7ffd1234abc0")
    #expect(object["stack"] as? [String] == [])
  }

  @Test(
    arguments: [
      (FutexWait.Outcome.woken, "woken"), (.timedOut, "timedOut"), (.interrupted, "interrupted"),
      (.error, "error"),
    ])
  func futexOutcomeNames(outcome: FutexWait.Outcome, name: String) {
    let event = EventFormatter().event(
      for: Self.futex(operation: 128, outcome: outcome), frames: [], wallClockOffset: Self.offset)
    #expect(event.futex == .init(uaddr: "0x7ffd1234abc0", op: "FUTEX_WAIT_PRIVATE", outcome: name))
  }

  /// `stack` is innermost first; unsymbolized frames are `module-file-name+0xoffset` or the address.
  @Test func stackNamesInnermostFirst() throws {
    let formatter = EventFormatter()
    let event = formatter.event(
      for: Self.offcpu(), frames: Self.frames, wallClockOffset: Self.offset)
    let expected = ["__futex_abstimed_wait_common", "libc.so.6+0x1f", "main", "0x7fffdeadbeef"]
    #expect(event.stack == expected)
    #expect(try Self.object(formatter.line(event))["stack"] as? [String] == expected)
  }

  @Test func framesCarryAddressesFunctionsOffsetsAndModules() throws {
    let formatter = EventFormatter()
    let event = formatter.event(
      for: Self.offcpu(), frames: Self.frames, wallClockOffset: Self.offset)
    #expect(
      event.frames == [
        .init(
          address: "0x7f1234567000", function: "__futex_abstimed_wait_common", offset: 0x3c,
          module: Self.libc),
        .init(address: "0x7f123450001f", function: nil, offset: 0x1f, module: Self.libc),
        .init(
          address: "0x555500001234", function: "main", offset: 0x10, module: "/opt/app/bin/server"),
        .init(address: "0x7fffdeadbeef", function: nil, offset: 0x7fff_dead_beef, module: nil),
      ])
    let object = try Self.object(formatter.line(event))
    let frames = try #require(object["frames"] as? [[String: Any]])
    #expect(frames.count == 4)
    #expect(frames[1]["address"] as? String == "0x7f123450001f")
    #expect(frames[1]["function"] == nil)
    #expect(frames[1]["offset"] as? Int == 0x1f)
    #expect(frames[1]["module"] as? String == Self.libc)
    #expect(frames[3]["module"] == nil)
  }

  @Test func unnamedFrameNames() {
    #expect(
      EventFormatter.unnamed(
        Frame(address: 0x7f00_0000_1000, function: nil, offset: 0x1f, module: Self.libc))
        == "libc.so.6+0x1f")
    #expect(
      EventFormatter.unnamed(
        Frame(address: 0x7f00_0000_1000, function: nil, offset: 0xabc, module: "libfoo.so"))
        == "libfoo.so+0xabc")
    #expect(
      EventFormatter.unnamed(
        Frame(address: 0x7f00_0000_1000, function: nil, offset: 0, module: "[vdso]"))
        == "[vdso]+0x0")
    #expect(
      EventFormatter.unnamed(
        Frame(address: 0xdead_beef, function: nil, offset: 0xdead_beef, module: nil))
        == "0xdeadbeef")
  }

  @Test func lineRoundTripsAndHasSortedKeys() throws {
    let formatter = EventFormatter()
    let event = formatter.event(
      for: Self.futex(), frames: Self.frames, wallClockOffset: Self.offset)
    let line = formatter.line(event)
    #expect(line.hasPrefix("{\"comm\":\"db-writer\",\"durationNs\":1500000000,"))
    #expect(try WireJSON.decode(BlockingEventJSON.self, from: Array(line.utf8)) == event)
  }

  // MARK: time

  @Test(
    arguments: [
      // start + offset = 05:09:01.123456789
      (0, "2026-11-27T05:09:01.123456789Z"),
      // Nanoseconds are zero-padded to nine digits.
      (-123_456_784, "2026-11-27T05:09:01.000000005Z"),
      (-123_456_789, "2026-11-27T05:09:01.000000000Z"),
      // The fraction carries into the seconds.
      (876_543_211, "2026-11-27T05:09:02.000000000Z"),
      (876_543_212, "2026-11-27T05:09:02.000000001Z"),
      // Days and months roll over: +18:50:59, then +3 days more.
      (67_859_000_000_000, "2026-11-28T00:00:00.123456789Z"),
      (327_059_000_000_000, "2026-12-01T00:00:00.123456789Z"),
    ] as [(Int64, String)])
  func timeIsRFC3339UTCWithNanoseconds(shift: Int64, expected: String) {
    let event = EventFormatter().event(
      for: Self.offcpu(), frames: [], wallClockOffset: Self.offset + shift)
    #expect(event.time == expected)
  }

  /// The time comes from the episode's monotonic start, not from when it was formatted.
  @Test func timeFollowsTheMonotonicStart() {
    var episode = Self.offcpu()
    episode.startMonotonicNanoseconds += 60_000_000_000
    let event = EventFormatter().event(for: episode, frames: [], wallClockOffset: Self.offset)
    #expect(event.time == "2026-11-27T05:10:01.123456789Z")
  }

  @Test func wallClockOffsetMapsMonotonicNowToRealNow() {
    var monotonic = timespec()
    clock_gettime(CLOCK_MONOTONIC, &monotonic)
    let offset = EventFormatter.wallClockOffset()
    let monotonicNow = Int64(monotonic.tv_sec) * 1_000_000_000 + Int64(monotonic.tv_nsec)
    let realNow = Int64(Date().timeIntervalSince1970 * 1e9)
    #expect(abs((monotonicNow + offset) - realNow) < 2_000_000_000)
  }
}

@Test func hexadecimalMatchesStringRadix16() {
  var generator = SystemRandomNumberGenerator()
  for value in [0, 1, 15, 16, UInt64.max]
    + (0..<200).map({ _ in
      UInt64.random(in: 0 ... .max, using: &generator)
        >> UInt64.random(in: 0...63, using: &generator)
    })
  {
    #expect(hexadecimal(value) == "0x" + String(value, radix: 16))
  }
}
