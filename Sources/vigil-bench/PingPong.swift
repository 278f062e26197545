import Foundation

/// One `vigil-workload pingpong PAIRS SECONDS` run, held at a shell gate (stopped,
/// before the exec) so that tracers can be aimed at its pid before it starts. The
/// exec keeps the pid, so every round trip of the window is traced.
final class PingPong {
  let process: Subprocess
  let seconds: Double
  private let outputPath: String

  var pid: pid_t { process.pid }

  /// Launches the gate and waits until it has stopped itself.
  init(workload: String, pairs: Int, seconds: Double, workDirectory: String) throws {
    self.seconds = seconds
    outputPath = workDirectory + "/pingpong.out"
    let script = "kill -STOP $$; exec \"$0\" pingpong \"$1\" \"$2\""
    process = try Subprocess(
      "/bin/sh", ["-c", script, workload, "\(pairs)", "\(seconds)"], stdout: outputPath,
      stderr: workDirectory + "/pingpong.err")
    let deadline = Date().addingTimeInterval(5)
    while ProcFiles.state(process.pid) != "T" {
      if let status = process.exitStatus {
        throw BenchError("ping-pong gate exited early (status \(status))")
      }
      if Date() >= deadline { throw BenchError("ping-pong gate did not stop within 5 s") }
      Thread.sleep(forTimeInterval: 0.005)
    }
  }

  /// Opens the gate: the workload starts its window now.
  func start() { kill(process.pid, SIGCONT) }

  /// Waits for the window to end; returns round trips per second.
  func finish() throws -> Double {
    guard let status = process.wait(timeout: seconds + 30) else {
      process.stop(SIGKILL)
      throw BenchError("ping-pong did not finish within \(Int(seconds) + 30) s")
    }
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
    guard status == 0, let rate = Double(text) else {
      throw BenchError("ping-pong failed (status \(status)), printed \"\(text)\"")
    }
    return rate
  }
}
