import ControlAPI
import Foundation
import GoroutineModel
import Testing

@Suite struct ControlAPITests {
  private func json<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try WireJSON.encode(value), as: UTF8.self)
  }

  private func roundTrip<T: Codable & Equatable>(_ value: T) throws {
    #expect(try WireJSON.decode(T.self, from: WireJSON.encode(value)) == value)
  }

  static let fullEvent = BlockingEventJSON(
    time: "2026-11-27T05:09:01.123456789Z", kind: "futex", pid: 42, tid: 43, comm: "worker",
    durationNs: 201_300_000, state: "interruptible",
    waker: .init(pid: 7, tid: 8, comm: "producer"),
    futex: .init(uaddr: "0x7f00deadbeef", op: "FUTEX_WAIT_PRIVATE", outcome: "woken"),
    stack: ["futex_wait", "pthread_cond_wait", "main"],
    frames: [.init(address: "0x401000", function: "main", offset: 16, module: "/usr/bin/app")])

  @Test func eventEncodesDocumentedKeysInStableOrder() throws {
    #expect(
      try json(Self.fullEvent)
        == #"{"comm":"worker","durationNs":201300000,"frames":[{"address":"0x401000","function":"main","#
        + #""module":"/usr/bin/app","offset":16}],"futex":{"op":"FUTEX_WAIT_PRIVATE","outcome":"woken","#
        + #""uaddr":"0x7f00deadbeef"},"kind":"futex","pid":42,"stack":["futex_wait","pthread_cond_wait","main"],"#
        + #""state":"interruptible","tid":43,"time":"2026-11-27T05:09:01.123456789Z","#
        + #""waker":{"comm":"producer","pid":7,"tid":8}}"#)
    try roundTrip(Self.fullEvent)
  }

  @Test func minimalEventOmitsAbsentOptionals() throws {
    let event = BlockingEventJSON(
      time: "2026-11-27T05:09:01.000000000Z", kind: "offcpu", pid: 1, tid: 1, comm: "init",
      durationNs: 5)
    #expect(
      try json(event)
        == #"{"comm":"init","durationNs":5,"kind":"offcpu","pid":1,"stack":[],"tid":1,"#
        + #""time":"2026-11-27T05:09:01.000000000Z"}"#)
    let line = try WireJSON.encodeLine(event)
    #expect(line.last == UInt8(ascii: "\n"))
    #expect(try WireJSON.decode(BlockingEventJSON.self, from: Array(line.dropLast())) == event)
  }

  @Test func eventDecodesFromALogLine() throws {
    let line = #"""
      {"time":"2026-11-27T05:09:01.5Z","kind":"offcpu","pid":9,"tid":10,"comm":"db","durationNs":18446744073709551615,
       "state":"uninterruptible","stack":["io_schedule"],"waker":null}
      """#
    let event = try WireJSON.decode(BlockingEventJSON.self, from: Array(line.utf8))
    #expect(event.durationNs == .max)
    #expect(event.state == "uninterruptible")
    #expect(event.waker == nil && event.futex == nil && event.frames == nil)
  }

  @Test func statusRoundTripsWithCamelCaseKeys() throws {
    let status = StatusResponse(
      version: "0.1.0", pid: 812, uptimeSeconds: 12.5,
      probes: ProbeStatus(
        attached: true, adopted: false, pinPath: "/sys/fs/bpf/vigil", programs: ["offcpu"]),
      targets: 2,
      events: EventCounters(
        received: 10, emitted: 9, lostRingBuffer: 1, lostQueue: 2, lostSubscribers: 3))
    try roundTrip(status)
    let text = try json(status)
    for key in [
      "uptimeSeconds", "pinPath", "adopted", "lostRingBuffer", "lostQueue", "lostSubscribers",
      "received",
      "emitted",
    ] {
      #expect(text.contains("\"\(key)\""))
    }
  }

  @Test func targetsRoundTrip() throws {
    let info = TargetInfo(
      id: 3, kind: .executable, value: "/usr/sbin/nginx", pids: [100, 101],
      addedAt: "2026-11-27T05:09:01Z",
      source: "api")
    try roundTrip(TargetList(targets: [info]))
    #expect(try json(info).contains(#""kind":"executable""#))
    #expect(TargetKind.allCases.map(\.rawValue) == ["pid", "executable", "cgroup"])
  }

  @Test func targetRequestEncodesOnlyTheSetField() throws {
    #expect(try json(TargetRequest(.pid(42))) == #"{"pid":42}"#)
    #expect(
      try json(TargetRequest(.cgroup("/sys/fs/cgroup/a"))) == #"{"cgroup":"/sys/fs/cgroup/a"}"#)
    #expect(
      try WireJSON.decode(TargetRequest.self, from: Array(#"{"executable":"nginx"}"#.utf8))
        == TargetRequest(executable: "nginx"))
  }

  @Test(
    arguments: [
      (TargetRequest(pid: 5), TargetSelector.pid(5), nil),
      (TargetRequest(executable: "nginx"), .executable("nginx"), nil),
      (TargetRequest(cgroup: "/a"), .cgroup("/a"), nil),
      (TargetRequest(), nil, nil),
      (TargetRequest(pid: 5, cgroup: "/a"), nil, nil),
      (TargetRequest(pid: -1), nil, "pid"),
      (TargetRequest(executable: ""), nil, "executable"),
      (TargetRequest(cgroup: ""), nil, "cgroup"),
    ] as [(TargetRequest, TargetSelector?, String?)])
  func targetRequestSelector(request: TargetRequest, expected: TargetSelector?, field: String?) {
    do {
      #expect(try request.selector() == expected)
    } catch {
      #expect(expected == nil)
      #expect(error.field == field)
      #expect(!error.error.isEmpty)
    }
  }

  @Test func errorResponseShape() throws {
    #expect(
      try json(ErrorResponse("no such pid 9", field: "pid"))
        == #"{"error":"no such pid 9","field":"pid"}"#)
    #expect(try json(ErrorResponse("forbidden")) == #"{"error":"forbidden"}"#)
  }

  @Test func eventQueryPathAndParse() throws {
    let query = EventQuery(
      follow: true, pid: 42, kind: .futex, minDurationNs: 250_000_000, limit: 10)
    #expect(
      query.path == "/v1/events?follow=true&pid=42&kind=futex&minDurationNs=250000000&limit=10")
    #expect(EventQuery().path == "/v1/events")
    let parsed = try EventQuery(query: [
      "follow": "true", "pid": "42", "kind": "futex", "minDurationNs": "250000000", "limit": "10",
    ])
    #expect(parsed == query)
  }

  @Test(arguments: [
    ("follow", "yes"), ("pid", "0"), ("pid", "abc"), ("kind", "sleep"), ("minDurationNs", "1ms"),
    ("limit", "-1"), ("minDuration", "5"),
  ])
  func eventQueryRejectsNamingTheParameter(name: String, value: String) {
    #expect(throws: ErrorResponse.self) { try EventQuery(query: [name: value]) }
    do {
      _ = try EventQuery(query: [name: value])
    } catch {
      #expect(error.field == name)
      #expect(error.error.contains(name))
    }
  }

  @Test func eventQueryMatches() {
    let event = Self.fullEvent
    #expect(EventQuery().matches(event))
    #expect(EventQuery(pid: 42, kind: .futex, minDurationNs: 201_300_000).matches(event))
    #expect(!EventQuery(pid: 41).matches(event))
    #expect(!EventQuery(kind: .offcpu).matches(event))
    #expect(!EventQuery(minDurationNs: 201_300_001).matches(event))
  }

  @Test func targetPaths() {
    #expect(APIPath.target(id: 7) == "/v1/targets/7")
    #expect(APIPath.targetID(in: "/v1/targets/7") == 7)
    #expect(APIPath.targetID(in: "/v1/targets/x") == nil)
    #expect(APIPath.targetID(in: "/v1/targets") == nil)
  }

  @Test(
    arguments: [
      ("250ms", 250_000_000), ("1s", 1_000_000_000), ("500us", 500_000), ("100ns", 100),
      ("500µs", 500_000),
      ("1.5ms", 1_500_000), (".5s", 500_000_000), ("2.000s", 2_000_000_000), (" 3MS ", 3_000_000),
      ("0ns", 0), ("18446744073709551615ns", UInt64.max),
    ] as [(String, UInt64)])
  func durationParses(text: String, nanoseconds: UInt64) throws {
    #expect(try DurationText.parse(text) == nanoseconds)
  }

  @Test(arguments: [
    ("", "expected a number"), ("10", "missing unit"), ("5m", "unknown unit"),
    ("ms", "expected a number"),
    ("1.5ns", "finer than a nanosecond"), ("1.2.3s", "expected a number"),
    ("20000000000s", "too large"),
    ("-1s", "expected a number"),
  ])
  func durationRejects(text: String, reason: String) {
    #expect {
      try DurationText.parse(text)
    } throws: { error in
      (error as? DurationParseError)?.description.contains(reason) == true
    }
  }

  @Test(
    arguments: [
      (850, "850ns"), (12_540, "12.5µs"), (201_300_000, "201.3ms"), (999_960, "1.0ms"),
      (2_000_000_000, "2.0s"),
      (86_400_000_000_000, "86400.0s"),
    ] as [(UInt64, String)])
  func durationFormats(nanoseconds: UInt64, text: String) {
    #expect(DurationText.format(nanoseconds: nanoseconds) == text)
  }

  @Test func rfc3339Formats() {
    #expect(RFC3339.format(seconds: 0) == "1970-01-01T00:00:00.000000000Z")
    #expect(RFC3339.format(seconds: 1_700_000_000, fractionDigits: 0) == "2023-11-14T22:13:20Z")
    #expect(
      RFC3339.format(seconds: 951_782_400, nanoseconds: 5, fractionDigits: 9)
        == "2000-02-29T00:00:00.000000005Z")
    #expect(
      RFC3339.format(seconds: -1, nanoseconds: 120_000_000, fractionDigits: 3)
        == "1969-12-31T23:59:59.120Z")
    #expect(
      RFC3339.format(seconds: 1_700_000_000, nanoseconds: 987_654_321, fractionDigits: 4)
        == "2023-11-14T22:13:20.9876Z")
    #expect(RFC3339.format(seconds: 253_402_300_800, fractionDigits: 0) == "10000-01-01T00:00:00Z")
  }

  @Test func rfc3339Parses() {
    #expect(RFC3339.parse("2023-11-14T22:13:20Z")! == (1_700_000_000, 0))
    #expect(RFC3339.parse("2026-11-27T05:09:01.123456789Z")!.nanoseconds == 123_456_789)
    #expect(RFC3339.parse("2023-11-14T23:13:20.5+01:00")! == (1_700_000_000, 500_000_000))
    for text in [
      "2023-11-14", "2023-11-14T22:13:20", "2023-13-14T22:13:20Z", "2023-11-14T22:13:20.Z", "x",
    ] {
      #expect(RFC3339.parse(text) == nil)
    }
    for seconds: Int64 in [0, 68_169_600, 951_782_400, 1_700_000_000, 4_102_444_800, -86_401] {
      #expect(RFC3339.parse(RFC3339.format(seconds: seconds, nanoseconds: 42))! == (seconds, 42))
    }
  }
}

@Suite struct EventJSONLineTests {
  /// Random events: the hand-written line equals Foundation's sorted-keys encoding.
  @Test func jsonLineMatchesJSONEncoder() throws {
    var generator = SystemRandomNumberGenerator()
    let pieces = ["a", "é", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "𝄞", "x y", ""]
    func text() -> String {
      (0..<Int.random(in: 0...4, using: &generator)).map { _ in
        pieces.randomElement(using: &generator)!
      }.joined()
    }
    for _ in 0..<500 {
      let event = BlockingEventJSON(
        time: text(), kind: text(), pid: .random(in: .min ... .max, using: &generator),
        tid: .random(in: -5...5, using: &generator), comm: text(),
        durationNs: .random(in: 0 ... .max, using: &generator),
        state: Bool.random(using: &generator) ? text() : nil,
        waker: Bool.random(using: &generator)
          ? .init(pid: .random(in: 0...9, using: &generator), tid: 1, comm: text()) : nil,
        futex: Bool.random(using: &generator)
          ? .init(uaddr: text(), op: text(), outcome: text()) : nil,
        goroutine: Bool.random(using: &generator)
          ? .random(in: 1 ... .max, using: &generator) : nil,
        stack: (0..<Int.random(in: 0...3, using: &generator)).map { _ in text() },
        frames: Bool.random(using: &generator)
          ? (0..<Int.random(in: 0...3, using: &generator)).map { _ in
            .init(
              address: text(), function: Bool.random(using: &generator) ? text() : nil,
              offset: .random(in: 0 ... .max, using: &generator),
              module: Bool.random(using: &generator) ? text() : nil)
          } : nil)
      let expected = String(decoding: try WireJSON.encode(event), as: UTF8.self)
      #expect(event.jsonLine == expected)
    }
  }
}

@Test func goroutineLeakJSONHasTheReportKeysAndThreads() throws {
  let leak = GoroutineLeakJSON(
    report: LeakReport(
      pid: 7, creationFunction: "main.leak", creationFile: "main.go", creationLine: 3,
      waitReason: "chan send", count: 12, parkedSeconds: 61.5, blockingFunction: nil,
      growing: true, confirmed: false),
    threads: ThreadSummary(total: 2, byState: ["sleeping in futex": 2]))
  let object = try #require(
    try JSONSerialization.jsonObject(with: Data(WireJSON.encode(leak))) as? [String: Any])
  #expect(
    Set(object.keys)
      == [
        "pid", "creationFunction", "creationFile", "creationLine", "waitReason", "count",
        "parkedSeconds", "blockingFunction", "growing", "confirmed", "threads",
      ])
  #expect(object["blockingFunction"] is NSNull)
  #expect(leak.count == 12 && leak.waitReason == "chan send")
  #expect(try WireJSON.decode(GoroutineLeakJSON.self, from: WireJSON.encode(leak)) == leak)
}
