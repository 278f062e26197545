import Foundation

/// One vigild run for the benchmark: its own socket under the work directory, its own pin
/// path, events discarded (`--events none`), logs to a file.
final class VigilDaemon {
  let process: Subprocess
  let client: ControlClient
  let logPath: String

  /// Starts vigild on its embedded default; `threshold` (e.g. "0") overrides both the
  /// off-CPU and futex thresholds. Returns once the control socket answers.
  init(binary: String, workDirectory: String, pinPath: String, threshold: String? = nil) throws {
    let socket = workDirectory + "/vigild.sock"
    unlink(socket)
    logPath = workDirectory + "/vigild.log"
    var arguments = ["--socket", socket, "--pin-path", pinPath, "--events", "none"]
    if let threshold {
      arguments += ["--offcpu-threshold", threshold, "--futex-threshold", threshold]
    }
    process = try Subprocess(binary, arguments, stderr: logPath)
    client = ControlClient(socketPath: socket)
    try waitUntilReady(timeout: 20)
  }

  private func waitUntilReady(timeout: TimeInterval) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if let status = process.exitStatus {
        throw BenchError("vigild exited at start (status \(status)):\n\(logTail())")
      }
      if let response = try? client.request("GET", "/v1/status", timeout: 2), response.status == 200
      {
        return
      }
      Thread.sleep(forTimeInterval: 0.05)
    }
    throw BenchError(
      "vigild did not answer on \(client.socketPath) within \(Int(timeout)) s:\n\(logTail())")
  }

  /// The last lines of vigild's log.
  func logTail(lines: Int = 15) -> String {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
  }

  /// Adds a pid target through the API; once this returns, the pid is in the kernel's filter.
  func watch(pid: pid_t) throws {
    let response = try client.request("POST", "/v1/targets", json: "{\"pid\":\(pid)}")
    guard response.status == 201 else {
      throw BenchError("vigild refused target pid \(pid): HTTP \(response.status) \(response.text)")
    }
  }

  func counters() throws -> DaemonCounters {
    let response = try client.request("GET", "/metrics")
    guard response.status == 200 else {
      throw BenchError("GET /metrics: HTTP \(response.status) \(response.text)")
    }
    return DaemonCounters(metrics: response.text)
  }

  /// The stacks of the most recent events of `pid` kept by vigild (innermost frame first).
  func recentStacks(pid: pid_t, limit: Int) throws -> [[String]] {
    struct Event: Decodable { var stack: [String] }
    let response = try client.request("GET", "/v1/events?pid=\(pid)&limit=\(limit)")
    guard response.status == 200 else {
      throw BenchError("GET /v1/events: HTTP \(response.status) \(response.text)")
    }
    let decoder = JSONDecoder()
    return try response.text.split(separator: "\n").map { line in
      try decoder.decode(Event.self, from: Data(line.utf8)).stack
    }
  }

  var cpuSeconds: Double { ProcFiles.cpuSeconds(process.pid) ?? 0 }
  var rssKiB: Int { ProcFiles.rssKiB(process.pid) ?? 0 }

  /// Stops vigild (SIGTERM: graceful); its probes stay pinned until `uninstall`.
  func stop() {
    let status = process.stop(SIGTERM, grace: 10)
    if status != 0 { Progress.say("vigild exited with status \(status):\n\(logTail())") }
  }

  /// Detaches and removes vigild's pinned probes under `pinPath`, if any.
  static func uninstall(binary: String, pinPath: String) {
    guard FileManager.default.fileExists(atPath: pinPath) else { return }
    let status = try? Subprocess(binary, ["--uninstall", "--pin-path", pinPath], tracked: false)
      .wait(timeout: 30)
    if status != 0 || FileManager.default.fileExists(atPath: pinPath) {
      Progress.say(
        "vigild --uninstall --pin-path \(pinPath) failed (status \(status.map(String.init) ?? "none")): removing the pins"
      )
      try? FileManager.default.removeItem(atPath: pinPath)
    }
  }
}
