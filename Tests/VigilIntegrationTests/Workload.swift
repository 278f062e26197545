import Foundation
import XCTest

/// A running `vigil-workload blocking` process: its thread ids, and a start signal.
final class Workload {
  struct Threads: Decodable {
    var pid: Int32
    var sleeper: Int32
    var futexWaiter: Int32
    var futexWaker: Int32
    var pipeReader: Int32
    var pipeWriter: Int32
    var futexTimeout: Int32
    var futexInterrupted: Int32
  }

  let process = Process()
  let threads: Threads
  private let input = Pipe()
  private let output = Pipe()

  init(rounds: Int) throws {
    process.executableURL = TestEnvironment.executable("vigil-workload")
    process.arguments = ["blocking", String(rounds)]
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    let line = try Self.readLine(output.fileHandleForReading)
    threads = try JSONDecoder().decode(Threads.self, from: Data(line.utf8))
  }

  var pid: Int32 { threads.pid }

  /// Lets the threads start blocking.
  func start() throws { try input.fileHandleForWriting.write(contentsOf: Data("go\n".utf8)) }

  /// Waits for the workload to finish (bounded), killing it past the deadline.
  func waitUntilDone(timeout: TimeInterval) {
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning { kill() }
  }

  func kill() {
    if process.isRunning {
      Glibc.kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  deinit { kill() }

  private static func readLine(_ handle: FileHandle) throws -> String {
    var bytes: [UInt8] = []
    while true {
      guard let chunk = try handle.read(upToCount: 1), let byte = chunk.first else { break }
      if byte == UInt8(ascii: "\n") { break }
      bytes.append(byte)
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
