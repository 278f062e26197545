import Foundation

/// What procfs tells about a process.
enum ProcFiles {
  /// Clock ticks per second, the unit of CPU times in /proc/PID/stat.
  static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

  /// The fields of /proc/PID/stat after the command name (the first is the state).
  private static func statFields(_ pid: pid_t) -> [Substring]? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    return text[text.index(after: close)...].split(separator: " ")
  }

  /// The scheduler state letter: R, S, D, T, Z...
  static func state(_ pid: pid_t) -> Character? { statFields(pid)?.first?.first }

  /// User plus system CPU time of the whole process (threads that ended included), in seconds.
  static func cpuSeconds(_ pid: pid_t) -> Double? {
    guard let fields = statFields(pid), fields.count > 12, let user = Double(fields[11]),
      let system = Double(fields[12])
    else { return nil }
    return (user + system) / ticksPerSecond
  }

  /// Resident set size in KiB (VmRSS).
  static func rssKiB(_ pid: pid_t) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
      return nil
    }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      return Int(line.dropFirst(6).split(whereSeparator: \.isWhitespace).first ?? "")
    }
    return nil
  }

  /// Whether the process holds a BPF link (an attached program).
  static func holdsBPFLink(_ pid: pid_t) -> Bool {
    let directory = "/proc/\(pid)/fd"
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return fds.contains { fd in
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(fd)"))
        == "anon_inode:bpf_link"
    }
  }
}
