import BPFCore
import Foundation
import Synchronization

/// Two network namespaces made for the benchmark, joined by a veth pair with both ends inside
/// them: client 172.31.250.1 (`vbc0`), server 172.31.250.2 (`vbs0`). Nothing touches the root
/// namespace; `delete()` removes both.
final class BenchNetwork: @unchecked Sendable {
  let client = "vigil-bench-\(getpid())-c"
  let server = "vigil-bench-\(getpid())-s"
  let serverInterface = "vbs0"
  let clientAddress = "172.31.250.1"
  let serverAddress = "172.31.250.2"
  var serverNamespacePath: String { "/var/run/netns/\(server)" }

  init() throws {
    do {
      try run("/usr/sbin/ip", "netns", "add", client)
      try run("/usr/sbin/ip", "netns", "add", server)
      try run(
        "/usr/sbin/ip", "link", "add", "vbc0", "netns", client, "type", "veth", "peer", "name",
        serverInterface, "netns", server)
      for (namespace, device, address) in [
        (client, "vbc0", clientAddress), (server, serverInterface, serverAddress),
      ] {
        try run("/usr/sbin/ip", "-n", namespace, "addr", "add", "\(address)/24", "dev", device)
        try run("/usr/sbin/ip", "-n", namespace, "link", "set", device, "up")
        try run("/usr/sbin/ip", "-n", namespace, "link", "set", "lo", "up")
      }
    } catch {
      delete()
      throw error
    }
  }

  func delete() {
    for namespace in [client, server] { _ = try? run("/usr/sbin/ip", "netns", "del", namespace) }
  }

  /// A window's packet rate over the veth.
  struct Rate {
    /// Packets the receiver got, per second.
    var packetsPerSecond: Double
    /// Packets sent that the receiver never got (its socket overflowed).
    var lost: Int
  }

  /// The UDP packet rate from client to server port 9 over `seconds` of one sender blasting
  /// 64-byte payloads (bounded by time).
  ///
  /// The sender runs on CPU 0, where the veth also delivers each packet (through the server's
  /// tcx ingress) in the sender's own softirq: that CPU is busy throughout, so the rate is one
  /// over the path's cost per packet. The receiver polls its socket on CPU 1 without sleeping,
  /// so no packet costs the sender a wake-up of another CPU, and the scheduler moves neither.
  func udpRate(seconds: Double) throws -> Rate {
    let receiver = try socket(in: server, type: SOCK_DGRAM)
    let sender = try socket(in: client, type: SOCK_DGRAM)
    defer {
      close(receiver)
      close(sender)
    }
    var buffer: Int32 = 8 << 20
    setsockopt(receiver, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, 4)
    guard withAddress("0.0.0.0", 9, { bind(receiver, $0, $1) }) == 0,
      withAddress(serverAddress, 9, { connect(sender, $0, $1) }) == 0
    else { throw BenchError("udp sockets: \(String(cString: strerror(errno)))") }

    let received = ReceivedCount()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      CPUAffinity.pin(to: 1)
      var payload = [UInt8](repeating: 0, count: 64)
      while !received.isStopped {
        if recv(receiver, &payload, payload.count, Int32(MSG_DONTWAIT)) > 0 { received.add() }
      }
      done.signal()
    }
    let affinity = CPUAffinity.pin(to: 0)
    defer { CPUAffinity.restore(affinity) }
    // Warm up (neighbour resolution), then count from here.
    var payload = [UInt8](repeating: 1, count: 64)
    for _ in 0..<100 { _ = send(sender, &payload, payload.count, 0) }
    usleep(100_000)
    let before = received.value
    var sent = 0
    let start = Date()
    while Date().timeIntervalSince(start) < seconds {
      for _ in 0..<256 {
        if send(sender, &payload, payload.count, 0) > 0 { sent += 1 }
      }
    }
    let elapsed = Date().timeIntervalSince(start)
    usleep(50_000)
    let count = received.value - before
    received.stop()
    done.wait()
    return Rate(packetsPerSecond: Double(count) / elapsed, lost: max(0, sent - count))
  }

  private func socket(in namespace: String, type: __socket_type) throws -> Int32 {
    try NetworkNamespace.run(in: namespace) {
      let fd = Glibc.socket(AF_INET, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
      guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
      return fd
    }
  }

  private func withAddress<T>(
    _ address: String, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T
  ) -> T {
    var storage = sockaddr_in()
    storage.sin_family = sa_family_t(AF_INET)
    storage.sin_port = port.bigEndian
    inet_pton(AF_INET, address, &storage.sin_addr)
    return withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
  }
}

/// The receiver's packet count, read by the benchmark while the receiver adds to it.
private final class ReceivedCount: Sendable {
  private let count = Atomic<Int>(0)
  private let stopped = Atomic<Bool>(false)
  func add() { count.add(1, ordering: .relaxed) }
  func stop() { stopped.store(true, ordering: .relaxed) }
  var value: Int { count.load(ordering: .relaxed) }
  var isStopped: Bool { stopped.load(ordering: .relaxed) }
}

/// The calling thread's CPUs, through glibc's `sched_getaffinity` and `sched_setaffinity`, which
/// its headers declare only under `_GNU_SOURCE` (so Swift does not import them).
enum CPUAffinity {
  /// A CPU set as glibc's `cpu_set_t` holds it: 1024 bits.
  typealias Mask = [UInt64]
  private typealias Call = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
  private static func function(_ name: String) -> Call? {
    dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: Call.self) }
  }
  private static let getAffinity = function("sched_getaffinity")
  private static let setAffinity = function("sched_setaffinity")

  /// Runs the calling thread on `cpu` only (when the machine has it); returns the CPUs it had.
  @discardableResult
  static func pin(to cpu: Int) -> Mask? {
    var previous = Mask(repeating: 0, count: 16)
    guard cpu < ProcessInfo.processInfo.activeProcessorCount,
      call(getAffinity, &previous) == 0
    else { return nil }
    var mask = Mask(repeating: 0, count: 16)
    mask[cpu / 64] = 1 << UInt64(cpu % 64)
    return call(setAffinity, &mask) == 0 ? previous : nil
  }

  /// Gives the calling thread back the CPUs `pin` returned.
  static func restore(_ mask: Mask?) {
    guard var mask else { return }
    _ = call(setAffinity, &mask)
  }

  private static func call(_ function: Call?, _ mask: inout Mask) -> Int32 {
    mask.withUnsafeMutableBytes { function?(0, $0.count, $0.baseAddress!) ?? -1 }
  }
}

struct BenchError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Runs a command to completion and times it from spawn to exit, with `posix_spawn` and
/// `waitpid` (Foundation's `Process` notices an exit up to ~50 ms late), also returning when it
/// was spawned (`monotonicNow()`); throws with its output when it fails.
func timedRun(_ path: String, _ arguments: [String]) throws -> (
  output: String, milliseconds: Double, startedNanoseconds: UInt64
) {
  var pipe: [Int32] = [0, 0]
  guard Glibc.pipe(&pipe) == 0 else {
    throw BenchError("pipe: \(String(cString: strerror(errno)))")
  }
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
  posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
  posix_spawn_file_actions_addclose(&actions, pipe[0])
  let argv = ([path] + arguments).map { strdup($0) } + [nil]
  defer { for argument in argv { free(argument) } }
  var pid: pid_t = 0
  let started = monotonicNow()
  let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
  close(pipe[1])
  guard spawned == 0 else {
    close(pipe[0])
    throw BenchError("posix_spawn \(path): \(String(cString: strerror(spawned)))")
  }
  var output: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 1 << 16)
  while true {
    let count = read(pipe[0], &buffer, buffer.count)
    if count < 0 && errno == EINTR { continue }
    if count <= 0 { break }
    output += buffer[..<count]
  }
  close(pipe[0])
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
  let milliseconds = Double(monotonicNow() - started) / 1e6
  let text = String(decoding: output, as: UTF8.self)
  guard status == 0 else {
    throw BenchError("\(path) \(arguments.joined(separator: " ")) failed: \(text)")
  }
  return (text, milliseconds, started)
}

/// Runs a command to completion; throws with its output when it fails.
@discardableResult
func run(_ path: String, _ arguments: String..., input: String? = nil) throws -> String {
  try run(path, arguments, input: input)
}

@discardableResult
func run(_ path: String, _ arguments: [String], input: String? = nil) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: path)
  process.arguments = arguments
  let output = Pipe()
  process.standardOutput = output
  process.standardError = output
  let inputPipe = Pipe()
  if input != nil { process.standardInput = inputPipe }
  try process.run()
  if let input {
    inputPipe.fileHandleForWriting.write(Data(input.utf8))
    try inputPipe.fileHandleForWriting.close()
  }
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let text = String(decoding: data, as: UTF8.self)
  guard process.terminationStatus == 0 else {
    throw BenchError("\(path) \(arguments.joined(separator: " ")) failed: \(text)")
  }
  return text
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock vigild reports its flips on.
func monotonicNow() -> UInt64 {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
