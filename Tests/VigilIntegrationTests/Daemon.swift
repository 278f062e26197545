import ControlAPI
import ControlHTTP
import Foundation
import XCTest

/// A `vigild` child process with its own socket and pin directory, for one test. Unchecked
/// Sendable: tests call it from one thread, except `request`, which touches no mutable state.
final class Daemon: @unchecked Sendable {
  let socket: String
  let pinRoot: String
  let directory: URL
  private(set) var process: Process
  /// Output of every run of this daemon (restarts add one each).
  private var outputs = [CapturedOutput()]
  private var errorOutputs = [CapturedOutput()]

  /// Starts vigild with `arguments` (socket and pin path are added), optionally with a config file.
  init(arguments: [String] = [], config: String? = nil, pinRoot: String? = nil) throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vigild-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    socket = directory.appendingPathComponent("vigil.sock").path
    self.pinRoot = pinRoot ?? TestEnvironment.makePinRoot()
    var all =
      [
        "--socket", socket, "--pin-path", self.pinRoot, "--policy-state",
        directory.appendingPathComponent("policy").path,
      ] + arguments
    if let config {
      let path = directory.appendingPathComponent("vigild.yaml")
      try config.write(to: path, atomically: true, encoding: .utf8)
      all += ["--config", path.path]
    }
    self.arguments = all
    process = try Self.launch(all, output: outputs[0], errors: errorOutputs[0])
  }

  private let arguments: [String]

  private static func launch(_ arguments: [String], output: CapturedOutput, errors: CapturedOutput)
    throws -> Process
  {
    let process = Process()
    process.executableURL = TestEnvironment.executable("vigild")
    process.arguments = arguments
    process.standardOutput = output.pipe
    process.standardError = errors.pipe
    try process.run()
    output.startReading()
    errors.startReading()
    return process
  }

  /// Waits until the control socket answers (or the process dies).
  func waitUntilReady(timeout: TimeInterval = 20) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if !process.isRunning {
        throw DaemonFailure("vigild exited (\(process.terminationStatus)): \(stderr)")
      }
      if let (status, _) = try? request("GET", APIPath.status), status == 200 { return }
      usleep(100_000)
    }
    throw DaemonFailure("vigild not ready after \(timeout)s: \(stderr)")
  }

  /// One API call.
  func request(_ method: String, _ path: String, body: String? = nil) throws -> (Int, String) {
    let client = UnixHTTPClient(socketPath: socket, timeoutSeconds: 10)
    let (status, bytes) = try client.request(
      method: method, path: path, body: body.map { Array($0.utf8) })
    return (status, String(decoding: bytes, as: UTF8.self))
  }

  /// An API call whose JSON answer (2xx) is decoded as `T`.
  func call<T: Decodable>(_ method: String, _ path: String, body: String? = nil, as type: T.Type)
    throws -> T
  {
    let (status, text) = try request(method, path, body: body)
    guard (200..<300).contains(status) else {
      throw DaemonFailure("\(method) \(path) answered \(status): \(text)")
    }
    return try WireJSON.decode(type, from: Array(text.utf8))
  }

  func status() throws -> StatusResponse {
    let (_, body) = try request("GET", APIPath.status)
    return try WireJSON.decode(StatusResponse.self, from: Array(body.utf8))
  }

  /// Blocking events written to stdout so far.
  var events: [BlockingEventJSON] {
    outputs.flatMap(\.lines).compactMap {
      try? WireJSON.decode(BlockingEventJSON.self, from: Array($0.utf8))
    }
  }

  /// Every line written to stdout so far (events and leak reports).
  var stdout: [String] { outputs.flatMap(\.lines) }

  var stderr: String { errorOutputs.flatMap(\.lines).joined(separator: "\n") }

  /// Waits for the process to exit by itself; returns its status.
  func waitForExit(timeout: TimeInterval = 20) -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(50_000) }
    return process.isRunning ? nil : process.terminationStatus
  }

  func kill(_ signal: Int32 = SIGKILL) {
    guard process.isRunning else { return }
    Glibc.kill(process.processIdentifier, signal)
    process.waitUntilExit()
  }

  /// Starts vigild again with the same arguments (after `kill`).
  func restart() throws {
    outputs.append(CapturedOutput())
    errorOutputs.append(CapturedOutput())
    process = try Self.launch(arguments, output: outputs.last!, errors: errorOutputs.last!)
  }

  /// Stops vigild and removes its pins and files.
  func cleanUp() {
    kill(SIGTERM)
    let pins = pinRoot
    let uninstall = Process()
    uninstall.executableURL = TestEnvironment.executable("vigild")
    uninstall.arguments = ["--uninstall", "--pin-path", pins]
    uninstall.standardOutput = FileHandle.nullDevice
    try? uninstall.run()
    uninstall.waitUntilExit()
    try? FileManager.default.removeItem(at: directory)
  }
}

struct DaemonFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Collects a child's output lines on a background thread.
final class CapturedOutput: @unchecked Sendable {
  let pipe = Pipe()
  private let lock = NSLock()
  private var buffer: [String] = []
  private var partial: [UInt8] = []

  func startReading() {
    let handle = pipe.fileHandleForReading
    Thread.detachNewThread { [self] in
      while true {
        let data = handle.availableData
        if data.isEmpty {
          lock.withLock {
            if !partial.isEmpty { buffer.append(String(decoding: partial, as: UTF8.self)) }
            partial.removeAll()
          }
          return
        }
        lock.withLock {
          partial.append(contentsOf: data)
          while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
            buffer.append(String(decoding: partial[..<newline], as: UTF8.self))
            partial.removeSubrange(...newline)
          }
        }
      }
    }
  }

  var lines: [String] { lock.withLock { buffer } }
}

/// Runs a command to completion, bounded in time; returns status and output.
@discardableResult
func runCommand(_ path: String, _ arguments: [String], timeout: TimeInterval = 30) throws -> (
  Int32, String
) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: path)
  process.arguments = arguments
  let output = CapturedOutput()
  process.standardOutput = output.pipe
  process.standardError = output.pipe
  try process.run()
  output.startReading()
  let deadline = Date().addingTimeInterval(timeout)
  while process.isRunning && Date() < deadline { usleep(20_000) }
  if process.isRunning {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
  usleep(50_000)
  return (process.terminationStatus, output.lines.joined(separator: "\n"))
}
