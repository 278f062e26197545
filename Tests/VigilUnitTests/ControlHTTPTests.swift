import ControlAPI
import Foundation
import Glibc
import Synchronization
import Testing

@testable import ControlHTTP

/// Pure pieces of ControlHTTP: authorization, parsing.
@Suite struct ControlHTTPParsingTests {
  @Test(
    arguments: [
      (PeerCredentials(pid: 1, uid: 0, gid: 0), 990, true),
      (PeerCredentials(pid: 1, uid: 1000, gid: 990), 990, true),
      (PeerCredentials(pid: 1, uid: 1000, gid: 1000, groups: [27, 990]), 990, true),
      (PeerCredentials(pid: 1, uid: 1000, gid: 1000, groups: [27]), 990, false),
      (PeerCredentials(pid: 1, uid: 1000, gid: 1000), 990, false),
      (PeerCredentials(pid: 1, uid: 65534, gid: 65534, groups: [65534]), 0, false),
      (PeerCredentials(pid: 1, uid: 1000, gid: 0), 0, true),
      (PeerCredentials.network, 0, false),
      (PeerCredentials.network, UInt32.max, false),
      (PeerCredentials(pid: 1, uid: .max, gid: 0, groups: [0]), 0, false),
    ] as [(PeerCredentials, UInt32, Bool)])
  func mutationAuthorization(peer: PeerCredentials, socketGroup: UInt32, allowed: Bool) {
    #expect(peer.allowsMutation(socketGroup: socketGroup) == allowed)
  }

  @Test(
    arguments: [
      ("127.0.0.1:9466", ListenAddress.tcp(host: "127.0.0.1", port: 9466)),
      ("0.0.0.0:1", .tcp(host: "0.0.0.0", port: 1)),
      ("[::1]:9466", .tcp(host: "::1", port: 9466)),
      ("[::]:0", .tcp(host: "::", port: 0)),
      ("::1:9466", nil), ("127.0.0.1", nil), ("127.0.0.1:65536", nil), ("127.0.0.1:x", nil),
    ] as [(String, ListenAddress?)])
  func listenAddressParses(text: String, expected: ListenAddress?) throws {
    guard let expected else {
      #expect(throws: ControlHTTPError.self) { try ListenAddress(hostPort: text) }
      return
    }
    let address = try ListenAddress(hostPort: text)
    #expect(address == expected)
    #expect(address.description == text)
  }

  @Test func supplementaryGroupsFromProcStatus() {
    let status = "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 990 \nNSpid:\t7\n"
    #expect(PeerCredentials.supplementaryGroups(procStatus: status) == [4, 24, 990])
    #expect(PeerCredentials.supplementaryGroups(procStatus: "Name:\tx\nGroups:\t\n") == [])
    #expect(PeerCredentials.supplementaryGroups(procStatus: "") == [])
  }

  @Test func requestHeadParses() throws {
    var reader = ByteReader(
      bytes: Array(
        "GET /v1/a%20b?follow=true&x=1+2&flag HTTP/1.1\r\nHost: localhost\r\nX-A:  1 \r\nx-a: 2\r\n\r\n"
          .utf8))
    let head = try #require(try RequestParser.readHead(from: &reader))
    #expect(head.method == "GET")
    #expect(head.path == "/v1/a b")
    #expect(head.query == ["follow": "true", "x": "1 2", "flag": ""])
    #expect(head.headers == ["host": "localhost", "x-a": "1, 2"])
    #expect(try RequestParser.bodyLength(of: head) == 0)
  }

  @Test(arguments: [
    ("NONSENSE\r\n\r\n", 400), ("GET /\r\n\r\n", 400), ("GET / HTTP/2.0\r\n\r\n", 505),
    ("GET http://x/ HTTP/1.1\r\n\r\n", 400), ("GET /%zz HTTP/1.1\r\n\r\n", 400),
    ("GET / HTTP/1.1\r\nbad header\r\n\r\n", 400), ("GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400),
    ("GET / HTTP/1.1\r\nX: <17000 bytes>\r\n\r\n", 431),
  ])
  func badRequestHeadsAreRejected(text: String, status: Int) {
    let expanded = text.replacingOccurrences(
      of: "<17000 bytes>", with: String(repeating: "a", count: 17_000))
    var reader = ByteReader(bytes: Array(expanded.utf8))
    #expect {
      try RequestParser.readHead(from: &reader)
    } throws: { error in
      (error as? RequestParser.Rejection)?.status == status
    }
  }

  @Test(arguments: [
    ("5", 5), ("0", 0), ("1048576", 1_048_576), ("1048577", 413), ("99999999999999999999", 413),
    ("-1", 400),
    ("1e3", 400), ("", 400),
  ])
  func contentLength(value: String, expected: Int) throws {
    let head = RequestParser.Head(
      method: "POST", path: "/", query: [:], version: "HTTP/1.1", headers: ["content-length": value]
    )
    do {
      #expect(try RequestParser.bodyLength(of: head) == expected)
    } catch let rejection as RequestParser.Rejection {
      #expect(rejection.status == expected)
    }
  }

  @Test func byteReaderLinesAndCounts() throws {
    var chunks = [Array("ab\r\ncd".utf8), Array("\nefgh".utf8)]
    var reader = ByteReader { buffer in
      guard !chunks.isEmpty else { return 0 }
      let chunk = chunks.removeFirst()
      buffer.copyBytes(from: chunk)
      return chunk.count
    }
    #expect(try reader.readLine(maxLength: 10) == Array("ab".utf8))
    #expect(try reader.readLine(maxLength: 10) == Array("cd".utf8))
    #expect(try reader.read(count: 2) == Array("ef".utf8))
    #expect(try reader.readSome() == Array("gh".utf8))
    #expect(try reader.readSome() == [])
    #expect(try reader.readLine(maxLength: 10) == nil)
    var long = ByteReader(bytes: Array("abcdef\n".utf8))
    #expect(throws: ByteReader.Failure.lineTooLong) { try long.readLine(maxLength: 5) }
  }

  @Test func responseReaderDechunks() throws {
    let text =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      + "6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\nTrailer: x\r\n\r\n"
    var response = try ResponseReader(ByteReader(bytes: Array(text.utf8)))
    #expect(response.status == 200)
    var body: [UInt8] = []
    while let piece = try response.nextPiece() { body += piece }
    #expect(String(decoding: body, as: UTF8.self) == "hello world")
  }

  @Test func responseReaderRejectsBadChunkSize() throws {
    let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    var response = try ResponseReader(ByteReader(bytes: Array(text.utf8)))
    #expect(throws: ResponseReader.Malformed.self) { try response.nextPiece() }
  }
}

/// Tests that open sockets, serialized so that none disturbs the fd-count check of another.
/// The CLI's end-to-end tests nest here for the same reason (see CLIHelpTests.swift).
@Suite(.serialized) struct ControlSocketTests {
  @Test func requestsRoundTrip() throws {
    try withServer { server, client in
      let status = try client.request(method: "GET", path: "/v1/status")
      #expect(status.status == 200)
      #expect(try WireJSON.decode(StatusResponse.self, from: status.body) == TestServer.status)

      let echo = try client.request(
        method: "POST", path: "/echo?name=a%2Fb", body: Array("{\"x\":1}".utf8))
      #expect(echo.status == 201)
      #expect(String(decoding: echo.body, as: UTF8.self) == "POST /echo name=a/b {\"x\":1}")

      let missing = try client.request(method: "GET", path: "/nope")
      #expect(missing.status == 404)
      #expect(
        try WireJSON.decode(ErrorResponse.self, from: missing.body).error
          == "no route for GET /nope")

      let deleted = try client.request(method: "DELETE", path: "/v1/targets/1")
      #expect(deleted.status == 204)
      #expect(deleted.body.isEmpty)
    }
  }

  @Test func oversizeBodyIs413() throws {
    try withServer { _, client in
      let answer = try client.request(
        method: "POST", path: "/echo", body: [UInt8](repeating: 65, count: 2 * 1024 * 1024))
      #expect(answer.status == 413)
      #expect(
        try WireJSON.decode(ErrorResponse.self, from: answer.body).error.contains("larger than"))
    }
  }

  @Test func garbageIs400AndHugeHeadIs431() throws {
    try withServer { server, _ in
      let garbage = try rawExchange(server.path, "NONSENSE\r\n\r\n")
      #expect(garbage.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
      #expect(garbage.hasSuffix(#"{"error":"malformed request line"}"#))
      let huge = try rawExchange(
        server.path, "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000) + "\r\n\r\n")
      #expect(huge.hasPrefix("HTTP/1.1 431 "))
    }
  }

  @Test func expectContinueIsHonoured() throws {
    try withServer { server, _ in
      let answer = try rawExchange(
        server.path, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi")
      #expect(answer.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"))
      #expect(answer.hasSuffix("POST /echo  hi"))
    }
  }

  @Test func streamIsChunkedAndStopsWhenTheClientLeaves() throws {
    try withServer { server, client in
      var lines: [String] = []
      try client.streamLines(path: "/stream") { line in
        lines.append(line)
        return lines.count < 5
      }
      #expect(lines == (0..<5).map { "line \($0)" })
      #expect(TestServer.waitUntil { server.producerFinished.isSet })

      let raw = try rawExchange(server.path, "GET /stream?count=2 HTTP/1.1\r\n\r\n")
      #expect(raw.contains("Transfer-Encoding: chunked\r\n"))
      #expect(raw.hasSuffix("\r\n\r\n7\r\nline 0\n\r\n7\r\nline 1\n\r\n0\r\n\r\n"))
    }
  }

  @Test func stopEndsAStreamThatIsStillBeingRead() throws {
    let server = try TestServer()
    defer { server.stop() }
    let client = UnixHTTPClient(socketPath: server.path)
    let clientDone = Flag()
    let thread = Thread {
      _ = try? client.streamLines(path: "/stream") { _ in true }
      clientDone.set(true)
    }
    thread.start()
    #expect(TestServer.waitUntil { server.producerStarted.isSet })
    server.http.stop()
    #expect(TestServer.waitUntil { server.producerFinished.isSet })
    #expect(TestServer.waitUntil { clientDone.isSet })
    #expect(access(server.path, F_OK) != 0)
  }

  @Test func peerCredentialsAreTheTestProcess() throws {
    try withServer { _, client in
      let answer = try client.request(method: "GET", path: "/peer")
      let groups = (0..<getgroups(0, nil)).map { _ in gid_t(0) }
      var buffer = groups
      let count = getgroups(Int32(buffer.count), &buffer)
      let expected = "\(getpid()) \(getuid()) \(getgid()) \(buffer.prefix(Int(count)).sorted())"
      #expect(String(decoding: answer.body, as: UTF8.self) == expected)
    }
  }

  @Test func socketFileHasModeAndGroup() throws {
    try withServer { server, _ in
      var info = stat()
      #expect(stat(server.path, &info) == 0)
      #expect(info.st_mode & S_IFMT == S_IFSOCK)
      #expect(info.st_mode & 0o777 == 0o660)
      #expect(server.http.socketGroup == info.st_gid)
      var parent = stat()
      #expect(stat(server.directory + "/run", &parent) == 0)
      #expect(parent.st_mode & 0o777 == 0o755)
    }
  }

  @Test func staleSocketIsReplacedButALiveOneIsNot() throws {
    let directory = try TestServer.makeTemporaryDirectory()
    defer { TestServer.removeTree(directory) }
    let path = directory + "/stale.sock"
    let stale = try UnixSocket.make()
    try UnixSocket.bind(stale, to: path)
    close(stale)

    let first = HTTPServer(.unix(path: path, groupName: nil)) { _ in .empty(status: 204) }
    try first.start()
    defer { first.stop() }
    #expect(try UnixHTTPClient(socketPath: path).request(method: "GET", path: "/").status == 204)

    let second = HTTPServer(.unix(path: path, groupName: nil)) { _ in .empty(status: 204) }
    #expect(throws: ControlHTTPError.addressInUse(path: path)) { try second.start() }
    #expect(try UnixHTTPClient(socketPath: path).request(method: "GET", path: "/").status == 204)

    let file = directory + "/file"
    let created = creat(file, 0o600)
    #expect(created >= 0)
    close(created)
    let third = HTTPServer(.unix(path: file, groupName: nil)) { _ in .empty(status: 204) }
    #expect(throws: ControlHTTPError.notASocket(path: file)) { try third.start() }
  }

  @Test func connectErrorNamesTheSocket() {
    let client = UnixHTTPClient(socketPath: "/nonexistent/vigil.sock")
    #expect {
      try client.request(method: "GET", path: "/v1/status")
    } throws: { error in
      "\(error)"
        == "cannot connect to /nonexistent/vigil.sock: No such file or directory — is vigild running?"
    }
  }

  @Test(arguments: ["127.0.0.1"] + (hasIPv6Loopback ? ["::1"] : []))
  func tcpServerServesAGetToAPeerThatCannotMutate(host: String) throws {
    let server = HTTPServer(.tcp(host: host, port: 0)) { request in
      let peer = request.peer
      let mutates = [0, getgid(), .max].contains { peer.allowsMutation(socketGroup: $0) }
      let text = "\(request.method) \(request.path) \(peer == .network) \(mutates)"
      return .full(status: 200, contentType: "text/plain", body: Array(text.utf8))
    }
    try server.start()
    defer { server.stop() }
    let port = try #require(server.port)
    #expect(port != 0)
    #expect(server.socketGroup == nil)
    let answer = try tcpExchange(host, port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
    #expect(answer.hasSuffix("\r\n\r\nGET /metrics true false"))
  }

  @Test func tcpListenErrorsNameTheAddress() throws {
    let first = HTTPServer(.tcp(host: "127.0.0.1", port: 0)) { _ in .empty(status: 204) }
    try first.start()
    defer { first.stop() }
    let port = try #require(first.port)
    let second = HTTPServer(.tcp(host: "127.0.0.1", port: port)) { _ in .empty(status: 204) }
    #expect {
      try second.start()
    } throws: { error in
      "\(error)" == "cannot listen on 127.0.0.1:\(port): Address already in use"
    }
    let named = HTTPServer(.tcp(host: "localhost", port: port)) { _ in .empty(status: 204) }
    #expect {
      try named.start()
    } throws: { error in
      "\(error)" == "cannot listen on localhost:\(port): not an IPv4 or IPv6 address"
    }
  }

  @Test func tcpPortIsReusableRightAfterStop() throws {
    let first = HTTPServer(.tcp(host: "127.0.0.1", port: 0)) { _ in .empty(status: 204) }
    try first.start()
    let port = try #require(first.port)
    // The server closes first, which leaves its side of the connection in TIME_WAIT.
    #expect(try tcpExchange("127.0.0.1", port, "GET / HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 204"))
    first.stop()
    let second = HTTPServer(.tcp(host: "127.0.0.1", port: port)) { _ in .empty(status: 204) }
    try second.start()
    second.stop()
  }

  @Test func tcpStartStopLeaksNoDescriptors() throws {
    let before = openDescriptorCount()
    do {
      let server = HTTPServer(.tcp(host: "127.0.0.1", port: 0)) { _ in .empty(status: 204) }
      try server.start()
      defer { server.stop() }
      let port = try #require(server.port)
      for _ in 0..<3 { _ = try tcpExchange("127.0.0.1", port, "GET / HTTP/1.1\r\n\r\n") }
      _ = try tcpExchange("127.0.0.1", port, "NONSENSE\r\n\r\n")
      let clash = HTTPServer(.tcp(host: "127.0.0.1", port: port)) { _ in .empty(status: 204) }
      #expect(throws: ControlHTTPError.self) { try clash.start() }
    }
    #expect(TestServer.waitUntil { openDescriptorCount() <= before })
  }

  @Test func startStopLeaksNoDescriptors() throws {
    let before = openDescriptorCount()
    try withServer { server, client in
      for _ in 0..<3 { _ = try client.request(method: "GET", path: "/v1/status") }
      _ = try client.request(
        method: "POST", path: "/echo", body: [UInt8](repeating: 1, count: 2 * 1024 * 1024))
      _ = try rawExchange(server.path, "NONSENSE\r\n\r\n")
      try client.streamLines(path: "/stream") { _ in false }
      #expect(TestServer.waitUntil { server.producerFinished.isSet })
    }
    // Other suites may open files meanwhile: wait for theirs to close, and allow fewer.
    #expect(TestServer.waitUntil { openDescriptorCount() <= before })
  }
}

/// Runs `body` against a started ``TestServer`` and stops it afterwards.
func withServer(_ body: (TestServer, UnixHTTPClient) throws -> Void) throws {
  let server = try TestServer()
  defer { server.stop() }
  try body(server, UnixHTTPClient(socketPath: server.path))
}

/// A server on a socket in a fresh temporary directory, with a few test routes.
final class TestServer: Sendable {
  static let status = StatusResponse(
    version: "1.2.3", pid: 77, uptimeSeconds: 3725,
    probes: ProbeStatus(
      attached: true, adopted: true, pinPath: "/sys/fs/bpf/vigil", programs: ["offcpu", "futex"]),
    targets: 1, events: EventCounters(received: 5, emitted: 4, lostRingBuffer: 1))

  let directory: String
  let path: String
  let http: HTTPServer
  let producerStarted = Flag()
  let producerFinished = Flag()

  /// Starts a server; `extraRoutes` answers first, returning nil to fall through to the defaults.
  init(extraRoutes: @escaping @Sendable (HTTPRequest) -> HTTPResponse? = { _ in nil }) throws {
    directory = try Self.makeTemporaryDirectory()
    path = directory + "/run/ctl.sock"
    let started = producerStarted
    let finished = producerFinished
    http = HTTPServer(.unix(path: path, groupName: nil)) { request in
      extraRoutes(request) ?? Self.route(request, started: started, finished: finished)
    }
    try http.start()
  }

  func stop() {
    http.stop()
    Self.removeTree(directory)
  }

  private static func route(_ request: HTTPRequest, started: Flag, finished: Flag) -> HTTPResponse {
    switch (request.method, request.path) {
    case ("GET", "/v1/status"):
      return .full(status: 200, contentType: MediaType.json, body: try! WireJSON.encode(status))
    case ("POST", "/echo"):
      let text =
        "\(request.method) \(request.path) \(request.query.map { "\($0)=\($1)" }.joined()) "
      return .full(status: 201, contentType: "text/plain", body: Array(text.utf8) + request.body)
    case ("DELETE", _):
      return .empty(status: 204)
    case ("GET", "/peer"):
      let peer = request.peer
      return .full(
        status: 200, contentType: "text/plain",
        body: Array("\(peer.pid) \(peer.uid) \(peer.gid) \(peer.groups.sorted())".utf8))
    case ("GET", "/stream"):
      let count = request.query["count"].flatMap { Int($0) } ?? .max
      started.set(false)
      finished.set(false)
      return .stream(status: 200, contentType: MediaType.ndjson) { writer in
        started.set(true)
        var index = 0
        while index < count, writer.write("line \(index)\n") {
          index += 1
          if count == .max { usleep(2_000) }
        }
        finished.set(true)
      }
    default:
      return .full(
        status: 404, contentType: MediaType.json,
        body: try! WireJSON.encode(ErrorResponse("no route for \(request.method) \(request.path)")))
    }
  }

  static func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/vigil-ctl-XXXXXX".utf8CString)
    guard let directory = mkdtemp(&template) else { throw SystemCallError.current }
    return String(cString: directory)
  }

  static func removeTree(_ directory: String) {
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// Polls `condition` for up to five seconds.
  static func waitUntil(_ condition: () -> Bool) -> Bool {
    for _ in 0..<500 {
      if condition() { return true }
      usleep(10_000)
    }
    return condition()
  }
}

/// A boolean set on one thread and read on another.
final class Flag: Sendable {
  private let value = Atomic(false)

  var isSet: Bool { value.load(ordering: .relaxed) }

  func set(_ newValue: Bool) {
    value.store(newValue, ordering: .relaxed)
  }
}

extension ByteReader {
  /// Reads `bytes`, a few at a time, and then ends.
  init(bytes: [UInt8]) {
    var remaining = bytes[...]
    self.init { buffer in
      let count = min(buffer.count, remaining.count, 7)
      buffer.copyBytes(from: remaining.prefix(count))
      remaining.removeFirst(count)
      return count
    }
  }
}

/// Sends `text` on a new connection and returns everything the server answers.
func rawExchange(_ path: String, _ text: String) throws -> String {
  let fd = try UnixSocket.make()
  defer { close(fd) }
  try UnixSocket.connect(fd, to: path)
  try UnixSocket.send(fd, Array(text.utf8))
  return readToEnd(fd)
}

/// Sends `text` over TCP to `host`:`port` and returns everything the server answers.
func tcpExchange(_ host: String, _ port: UInt16, _ text: String) throws -> String {
  var address = sockaddr_storage()
  let length = try #require(ListeningSocket.socketAddress(host, port, into: &address))
  let fd = socket(Int32(address.ss_family), Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { throw SystemCallError.current }
  defer { close(fd) }
  try ListeningSocket.withSocketAddress(&address) {
    try ListeningSocket.check(connect(fd, $0, length))
  }
  try UnixSocket.send(fd, Array(text.utf8))
  return readToEnd(fd)
}

/// Everything `fd` yields until the peer closes.
func readToEnd(_ fd: Int32) -> String {
  var reader = ByteReader(socket: fd)
  var answer: [UInt8] = []
  while let piece = try? reader.readSome(), !piece.isEmpty { answer += piece }
  return String(decoding: answer, as: UTF8.self)
}

/// Whether the loopback interface has `::1`.
let hasIPv6Loopback =
  (try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8))?
  .contains("00000000000000000000000000000001") ?? false

/// Entries in /proc/self/fd (less the one used to list it).
/// Open sockets of this process: what the servers under test open. (Other suites run in
/// parallel and hold pipes and files, e.g. while building Go fixtures; the serialized socket
/// suite is the only one that opens sockets.)
func openDescriptorCount() -> Int {
  let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
  return names.filter {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)"))?
      .hasPrefix("socket:") ?? false
  }.count
}
