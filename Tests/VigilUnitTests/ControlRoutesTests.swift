import AgentConfig
import ControlAPI
import Foundation
import Glibc
import Testing

@testable import Agent
@testable import ControlHTTP

/// The control API's routes over a registry of fakes and a real event hub.
@Suite struct ControlRoutesTests {
  static let socketGroup: UInt32 = 990
  static let root = PeerCredentials(pid: 10, uid: 0, gid: 0)
  static let member = PeerCredentials(pid: 11, uid: 1000, gid: 1000, groups: [27, socketGroup])
  static let outsider = PeerCredentials(pid: 12, uid: 1000, gid: 1000, groups: [27])

  static let status = StatusResponse(
    version: "0.1.0", pid: 4321, uptimeSeconds: 12.5,
    probes: ProbeStatus(
      attached: true, adopted: false, pinPath: "/sys/fs/bpf/vigil/v1",
      programs: ["vigil_sched_switch", "vigil_futex_exit"]),
    targets: 2,
    events: EventCounters(
      received: 10, emitted: 9, lostRingBuffer: 1, lostQueue: 0, lostSubscribers: 3))
  static let metricsText =
    "# HELP vigil_up 1 while vigild runs.\n# TYPE vigil_up gauge\nvigil_up 1\n"

  let kernel = FakeKernelTargetSet()
  let processes = FakeProcessSource(
    [.nginx(TestPid.a), .nginx(TestPid.b), .bash(TestPid.c)],
    cgroups: ["/sys/fs/cgroup/system.slice": 1001])
  let registry: TargetRegistry
  let hub = EventHub(recentCapacity: 16, subscriberCapacity: 16)

  init() {
    registry = TargetRegistry(kernel: kernel, processes: processes, logger: .quiet)
  }

  func routes(socketGroup: UInt32? = ControlRoutesTests.socketGroup) -> ControlRoutes {
    ControlRoutes(
      registry: registry, hub: hub, status: { Self.status }, metrics: { Self.metricsText },
      socketGroup: { socketGroup })
  }

  /// A complete response's parts; records an issue for a streamed one.
  struct Full {
    var status: Int
    var contentType: String
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try WireJSON.decode(type, from: body) }
  }

  func send(
    _ method: String, _ path: String, query: [String: String] = [:], body: String = "",
    peer: PeerCredentials = ControlRoutesTests.root,
    socketGroup: UInt32? = ControlRoutesTests.socketGroup
  ) throws -> Full {
    let request = HTTPRequest(
      method: method, path: path, query: query, body: Array(body.utf8), peer: peer)
    switch routes(socketGroup: socketGroup).handle(request) {
    case .full(let status, let contentType, let body):
      return Full(status: status, contentType: contentType, body: body)
    case .stream(let status, _, _):
      Issue.record("\(method) \(path) streamed (status \(status))")
      throw CancellationError()
    }
  }

  /// Checks a JSON error response; returns it.
  @discardableResult
  func expectError(
    _ response: Full, _ status: Int, field: String?,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> ErrorResponse {
    #expect(response.status == status, sourceLocation: sourceLocation)
    #expect(response.contentType == MediaType.json, sourceLocation: sourceLocation)
    let error = try response.decode(ErrorResponse.self)
    #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
    #expect(!error.error.isEmpty, sourceLocation: sourceLocation)
    return error
  }

  // MARK: GET

  @Test func status() throws {
    let response = try send("GET", APIPath.status, peer: Self.outsider)
    #expect(response.status == 200)
    #expect(response.contentType == MediaType.json)
    #expect(response.body.last == UInt8(ascii: "\n"))
    #expect(try response.decode(StatusResponse.self) == Self.status)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    #expect(Set(object.keys) == ["version", "pid", "uptimeSeconds", "probes", "targets", "events"])
  }

  @Test func emptyTargetList() throws {
    let response = try send("GET", APIPath.targets)
    #expect(response.status == 200)
    #expect(response.contentType == MediaType.json)
    #expect(try response.decode(TargetList.self) == TargetList(targets: []))
    #expect(response.text == "{\"targets\":[]}\n")
  }

  @Test func targetList() throws {
    let before = Date()
    try registry.add(.pid(TestPid.c), source: .config)
    try registry.add(.executable("nginx"), source: .api)
    try registry.add(.cgroup("/sys/fs/cgroup/system.slice"), source: .api)

    let response = try send("GET", APIPath.targets, peer: Self.outsider)
    #expect(response.status == 200)
    let list = try response.decode(TargetList.self).targets
    #expect(list.map(\.id) == [1, 2, 3])
    #expect(list.map(\.kind) == [.pid, .executable, .cgroup])
    #expect(list.map(\.value) == ["\(TestPid.c)", "nginx", "/sys/fs/cgroup/system.slice"])
    #expect(list.map(\.pids) == [[TestPid.c], [TestPid.a, TestPid.b], [TestPid.a, TestPid.b]])
    #expect(list.map(\.source) == ["config", "api", "api"])
    for info in list {
      // RFC 3339, whole seconds, UTC.
      let parsed = try #require(RFC3339.parse(info.addedAt), "\(info.addedAt)")
      #expect(info.addedAt.hasSuffix("Z"))
      #expect(!info.addedAt.contains("."))
      #expect(abs(Double(parsed.seconds) - before.timeIntervalSince1970) < 60)
    }
  }

  // MARK: POST /v1/targets

  @Test func addKnownPid() throws {
    let response = try send("POST", APIPath.targets, body: "{\"pid\":\(TestPid.c)}")
    #expect(response.status == 201)
    #expect(response.contentType == MediaType.json)
    let info = try response.decode(TargetInfo.self)
    #expect(info.id == 1)
    #expect(info.kind == .pid)
    #expect(info.value == "\(TestPid.c)")
    #expect(info.pids == [TestPid.c])
    #expect(info.source == "api")
    #expect(registry.targets.map(\.spec) == [.pid(TestPid.c)])
    #expect(kernel.watchedProcesses == [TestPid.c: 1])
  }

  @Test func addExecutableAndCgroup() throws {
    let executable = try send("POST", APIPath.targets, body: "{\"executable\":\"nginx\"}")
    #expect(executable.status == 201)
    #expect(try executable.decode(TargetInfo.self).pids == [TestPid.a, TestPid.b])
    let cgroup = try send(
      "POST", APIPath.targets, body: "{\"cgroup\":\"/sys/fs/cgroup/system.slice\"}")
    #expect(cgroup.status == 201)
    #expect(try cgroup.decode(TargetInfo.self).kind == .cgroup)
    #expect(registry.targets.count == 2)
  }

  @Test func addUnknownPidIsNotFound() throws {
    let response = try send("POST", APIPath.targets, body: "{\"pid\":\(TestPid.d)}")
    try expectError(response, 404, field: "pid")
    #expect(registry.targets.isEmpty)
    // The README's example.
    let example = try send("POST", APIPath.targets, body: "{\"pid\":999999999}")
    let error = try expectError(example, 404, field: "pid")
    #expect(error.error == "no process with pid 999999999")
  }

  @Test func addMissingCgroupIsNotFound() throws {
    let response = try send(
      "POST", APIPath.targets, body: "{\"cgroup\":\"/sys/fs/cgroup/nope.slice\"}")
    try expectError(response, 404, field: "cgroup")
  }

  @Test func addCgroupOutsideTheMountIsUnprocessable() throws {
    let response = try send("POST", APIPath.targets, body: "{\"cgroup\":\"/tmp/web.slice\"}")
    try expectError(response, 422, field: "cgroup")
    #expect(registry.targets.isEmpty)
  }

  @Test(arguments: [
    "", "{", "not json", "[]", "[{\"pid\":1}]", "42", "{\"pid\":\"1\"}", "{\"pid\":1.5}",
    "{\"pid\":99999999999}", "{\"executable\":7}", "{\"pid\":null}", "{}", "{\"name\":\"nginx\"}",
  ])
  func malformedBodyIsBadRequest(body: String) throws {
    let response = try send("POST", APIPath.targets, body: body)
    #expect(response.status == 400, "body \(body)")
    #expect(try response.decode(ErrorResponse.self).error.isEmpty == false)
    #expect(registry.targets.isEmpty)
    #expect(kernel.calls.isEmpty)
  }

  @Test(arguments: [
    "{\"pid\":\(TestPid.c),\"executable\":\"nginx\"}",
    "{\"executable\":\"nginx\",\"cgroup\":\"/sys/fs/cgroup/system.slice\"}",
    "{\"pid\":\(TestPid.c),\"executable\":\"nginx\",\"cgroup\":\"/sys/fs/cgroup/system.slice\"}",
  ])
  func moreThanOneSelectorIsBadRequest(body: String) throws {
    let response = try send("POST", APIPath.targets, body: body)
    let error = try expectError(response, 400, field: nil)
    #expect(error.error.contains("exactly one"))
    #expect(registry.targets.isEmpty)
  }

  @Test(arguments: [
    ("{\"pid\":0}", "pid"), ("{\"pid\":-5}", "pid"), ("{\"executable\":\"\"}", "executable"),
    ("{\"cgroup\":\"\"}", "cgroup"),
  ])
  func badSelectorValueNamesTheField(body: String, field: String) throws {
    try expectError(try send("POST", APIPath.targets, body: body), 400, field: field)
    #expect(registry.targets.isEmpty)
  }

  @Test func addingTheSameTargetAgainReturnsIt() throws {
    let first = try send("POST", APIPath.targets, body: "{\"executable\":\"nginx\"}")
    let second = try send("POST", APIPath.targets, body: "{\"executable\":\"nginx\"}")
    #expect(first.status == 201)
    #expect(try second.decode(TargetInfo.self).id == first.decode(TargetInfo.self).id)
    #expect(registry.targets.count == 1)
  }

  // MARK: DELETE /v1/targets/{id}

  @Test func removeTarget() throws {
    let target = try registry.add(.pid(TestPid.c), source: .api)
    let response = try send("DELETE", APIPath.target(id: target.id))
    #expect(response.status == 204)
    #expect(response.body.isEmpty)
    #expect(response.contentType == "")
    #expect(registry.targets.isEmpty)
    #expect(kernel.watchedProcesses.isEmpty)

    try expectError(try send("DELETE", APIPath.target(id: target.id)), 404, field: "id")
  }

  @Test func removeUnknownTargetIsNotFound() throws {
    try registry.add(.pid(TestPid.c), source: .api)
    try expectError(try send("DELETE", APIPath.target(id: 77)), 404, field: "id")
    #expect(registry.targets.count == 1)
  }

  @Test(arguments: ["/v1/targets/abc", "/v1/targets/", "/v1/targets/1/x"])
  func removeMalformedIDIsNotFound(path: String) throws {
    try registry.add(.pid(TestPid.c), source: .api)
    let response = try send("DELETE", path)
    #expect(response.status == 404)
    #expect(registry.targets.count == 1)
  }

  // MARK: Authorization

  @Test func outsiderMayNotMutate() throws {
    let target = try registry.add(.pid(TestPid.c), source: .config)
    kernel.clearCalls()

    let post = try send(
      "POST", APIPath.targets, body: "{\"pid\":\(TestPid.a)}", peer: Self.outsider)
    let error = try expectError(post, 403, field: nil)
    #expect(error.error.contains("1000"))
    let delete = try send("DELETE", APIPath.target(id: target.id), peer: Self.outsider)
    try expectError(delete, 403, field: nil)

    #expect(registry.targets.map(\.id) == [target.id])
    #expect(kernel.calls.isEmpty)
    // Reading is open to everyone.
    #expect(try send("GET", APIPath.targets, peer: Self.outsider).status == 200)
    #expect(try send("GET", APIPath.events, peer: Self.outsider).status == 200)
    #expect(try send("GET", APIPath.metrics, peer: Self.outsider).status == 200)
  }

  @Test func socketGroupMembersMayMutate() throws {
    let post = try send("POST", APIPath.targets, body: "{\"pid\":\(TestPid.c)}", peer: Self.member)
    #expect(post.status == 201)
    let primary = PeerCredentials(pid: 13, uid: 1001, gid: Self.socketGroup)
    let id = try post.decode(TargetInfo.self).id
    #expect(try send("DELETE", APIPath.target(id: id), peer: primary).status == 204)
  }

  /// A TCP peer has no kernel credentials and may never mutate, whatever the socket's group.
  @Test(arguments: [ControlRoutesTests.socketGroup, 0, UInt32.max, nil] as [UInt32?])
  func networkPeerMayNotMutate(socketGroup: UInt32?) throws {
    let post = try send(
      "POST", APIPath.targets, body: "{\"pid\":\(TestPid.c)}", peer: .network,
      socketGroup: socketGroup)
    try expectError(post, 403, field: nil)
    #expect(registry.targets.isEmpty)
    #expect(try send("GET", APIPath.status, peer: .network, socketGroup: socketGroup).status == 200)
  }

  @Test func withoutSocketGroupOnlyRootMayMutate() throws {
    let member = try send(
      "POST", APIPath.targets, body: "{\"pid\":\(TestPid.c)}", peer: Self.member, socketGroup: nil)
    try expectError(member, 403, field: nil)
    let root = try send(
      "POST", APIPath.targets, body: "{\"pid\":\(TestPid.c)}", peer: Self.root, socketGroup: nil)
    #expect(root.status == 201)
  }

  // MARK: Unknown paths and methods

  @Test(arguments: [
    ("GET", "/"), ("GET", "/v2/status"), ("GET", "/v1/status/"), ("GET", "/v1/statusx"),
    ("GET", "/v1/targets/1"), ("POST", "/v1/nothing"), ("GET", "/metrics/x"),
  ])
  func unknownPathIsNotFound(method: String, path: String) throws {
    try expectError(try send(method, path), 404, field: nil)
  }

  @Test(arguments: [
    ("PUT", APIPath.status), ("POST", APIPath.status), ("DELETE", APIPath.status),
    ("PUT", APIPath.targets), ("PATCH", APIPath.targets), ("DELETE", APIPath.targets),
    ("POST", APIPath.events), ("DELETE", APIPath.events), ("POST", APIPath.metrics),
    ("HEAD", APIPath.metrics),
  ])
  func wrongMethodIsNotAllowed(method: String, path: String) throws {
    let error = try expectError(try send(method, path), 405, field: nil)
    #expect(error.error.contains(method))
    #expect(registry.targets.isEmpty)
  }

  // MARK: GET /v1/events

  static func event(_ index: Int, pid: Int32, kind: String, durationNs: UInt64) -> BlockingEventJSON
  {
    BlockingEventJSON(
      time: "2026-11-27T05:09:0\(index).000000000Z", kind: kind, pid: pid, tid: pid,
      comm: "t\(index)",
      durationNs: durationNs, stack: ["f\(index)"])
  }

  /// `event` as the hub keeps it, encoded as `line`.
  static func batch(_ event: BlockingEventJSON, line: String) -> EventHub.Batch {
    EventHubTests.batch(pid: event.pid, kind: event.kind, durationNs: event.durationNs, line: line)
  }

  /// Publishes events 1...6 and returns their lines.
  func publishEvents() -> [String] {
    let events = [
      Self.event(1, pid: 7, kind: "offcpu", durationNs: 1_000),
      Self.event(2, pid: 8, kind: "futex", durationNs: 2_000),
      Self.event(3, pid: 7, kind: "futex", durationNs: 3_000),
      Self.event(4, pid: 8, kind: "offcpu", durationNs: 4_000),
      Self.event(5, pid: 7, kind: "futex", durationNs: 5_000),
      Self.event(6, pid: 7, kind: "offcpu", durationNs: 6_000),
    ]
    let formatter = EventFormatter()
    let lines = events.map(formatter.line)
    for (event, line) in zip(events, lines) { hub.publish(Self.batch(event, line: line)) }
    return lines
  }

  @Test func recentEventsAsNDJSON() throws {
    let lines = publishEvents()
    let response = try send("GET", APIPath.events, peer: Self.outsider)
    #expect(response.status == 200)
    #expect(response.contentType == MediaType.ndjson)
    #expect(response.text == lines.map { $0 + "\n" }.joined())
    let decoded = try response.text.split(separator: "\n").map {
      try WireJSON.decode(BlockingEventJSON.self, from: Array($0.utf8))
    }
    #expect(decoded.map(\.comm) == ["t1", "t2", "t3", "t4", "t5", "t6"])
  }

  @Test(
    arguments: [
      ([:], [1, 2, 3, 4, 5, 6]),
      (["follow": "false"], [1, 2, 3, 4, 5, 6]),
      (["follow": "0"], [1, 2, 3, 4, 5, 6]),
      (["pid": "7"], [1, 3, 5, 6]),
      (["kind": "futex"], [2, 3, 5]),
      (["minDurationNs": "4000"], [4, 5, 6]),
      (["pid": "7", "kind": "offcpu"], [1, 6]),
      (["pid": "7", "kind": "futex", "minDurationNs": "3001"], [5]),
      (["limit": "2"], [5, 6]),
      (["pid": "8", "limit": "1"], [4]),
      (["pid": "9"], []),
    ] as [([String: String], [Int])])
  func recentEventsAreFiltered(query: [String: String], expected: [Int]) throws {
    let lines = publishEvents()
    let response = try send("GET", APIPath.events, query: query)
    #expect(response.status == 200)
    #expect(response.contentType == MediaType.ndjson)
    #expect(response.text == expected.map { lines[$0 - 1] + "\n" }.joined())
  }

  @Test func noEventsIsAnEmptyBody() throws {
    let response = try send("GET", APIPath.events)
    #expect(response.status == 200)
    #expect(response.body.isEmpty)
  }

  @Test(arguments: [
    ("pid", "abc"), ("pid", "0"), ("pid", "-3"), ("kind", "sleep"), ("minDurationNs", "-1"),
    ("minDurationNs", "1ms"), ("limit", "0"), ("limit", "x"), ("follow", "yes"), ("bogus", "1"),
  ])
  func badQueryNamesTheParameter(name: String, value: String) throws {
    let response = try send("GET", APIPath.events, query: [name: value])
    let error = try expectError(response, 400, field: name)
    #expect(error.error.contains(name))
  }

  /// With `follow`, the recent events (up to `limit`) come first, then new ones as they are
  /// published, filtered; the stream ends when the client goes away.
  @Test func followStreamsNewEvents() throws {
    let lines = publishEvents()
    let request = HTTPRequest(
      method: "GET", path: APIPath.events, query: ["follow": "true", "pid": "7", "limit": "1"],
      peer: Self.outsider)
    guard case .stream(let status, let contentType, let producer) = routes().handle(request) else {
      Issue.record("follow did not stream")
      return
    }
    #expect(status == 200)
    #expect(contentType == MediaType.ndjson)

    var fds: [Int32] = [-1, -1]
    #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
    let (server, client) = (fds[0], fds[1])
    defer { close(server) }
    let writer = ChunkWriter(socket: server, chunked: false)
    let finished = DispatchSemaphore(value: 0)
    Thread {
      producer(writer)
      finished.signal()
    }.start()

    // The replay: the newest pid-7 event only. The subscription exists once it arrives.
    var received = try Self.read(client, until: 1)
    #expect(received == [lines[5]])

    let formatter = EventFormatter()
    let later = [
      Self.event(7, pid: 8, kind: "futex", durationNs: 7_000),
      Self.event(8, pid: 7, kind: "futex", durationNs: 8_000),
      Self.event(9, pid: 7, kind: "offcpu", durationNs: 9_000),
    ]
    for event in later { hub.publish(Self.batch(event, line: formatter.line(event))) }
    received = try Self.read(client, until: 2)
    #expect(received == [formatter.line(later[1]), formatter.line(later[2])])

    close(client)
    #expect(
      finished.wait(timeout: .now() + 10) == .success, "the producer did not notice the client left"
    )
  }

  /// Reads newline-terminated lines from `fd` until `count` arrived (10 s at most).
  static func read(_ fd: Int32, until count: Int) throws -> [String] {
    var bytes: [UInt8] = []
    let deadline = Date().addingTimeInterval(10)
    while bytes.count(where: { $0 == UInt8(ascii: "\n") }) < count, Date() < deadline {
      var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&entry, 1, 100) > 0 else { continue }
      var buffer = [UInt8](repeating: 0, count: 4096)
      let got = recv(fd, &buffer, buffer.count, 0)
      guard got > 0 else { break }
      bytes += buffer[..<got]
    }
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
  }

  // MARK: /metrics

  @Test func metrics() throws {
    let response = try send("GET", APIPath.metrics, peer: Self.outsider)
    #expect(response.status == 200)
    #expect(response.text == Self.metricsText)
    #expect(response.contentType.hasPrefix("text/plain"))
    #expect(response.contentType.contains("version=0.0.4"))
  }

  /// The content type the API module declares for the Prometheus exposition.
  @Test func metricsContentTypeIsTheDeclaredOne() throws {
    let response = try send("GET", APIPath.metrics)
    #expect(response.contentType == MediaType.prometheus)
  }
}
