import Foundation

/// libbpf-tools `offcputime -p PID`: the peer tracer, which takes a stack at every switch-out.
final class Offcputime {
  let process: Subprocess

  /// Starts tracing `pid`; returns once its program is attached (it holds a BPF link).
  init(binary: String, pid: pid_t, workDirectory: String) throws {
    let errors = workDirectory + "/offcputime.err"
    process = try Subprocess(
      binary, ["-p", "\(pid)"], stdout: workDirectory + "/offcputime.out", stderr: errors)
    let deadline = Date().addingTimeInterval(20)
    while !ProcFiles.holdsBPFLink(process.pid) {
      if let status = process.exitStatus {
        let message = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        throw BenchError("offcputime exited at start (status \(status)): \(message)")
      }
      if Date() >= deadline { throw BenchError("offcputime did not attach within 20 s") }
      Thread.sleep(forTimeInterval: 0.02)
    }
  }

  /// Stops it with SIGINT (it then prints its stacks, which are discarded).
  func stop() { process.stop(SIGINT, grace: 20) }
}
