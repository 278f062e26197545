import AgentConfig
import ControlAPI
import Foundation

/// What a process's threads are doing in the kernel, from /proc/PID/task: each thread's state
/// and, when it sleeps in a system call, which one.
enum ThreadStates {
  /// The threads of `pid` counted by state and syscall, e.g. `sleeping in futex`; nil when the
  /// process is gone.
  static func summary(pid: Int32) -> ThreadSummary? {
    let task = "/proc/\(pid)/task"
    guard let tids = try? FileManager.default.contentsOfDirectory(atPath: task) else { return nil }
    var byState: [String: Int] = [:]
    for tid in tids {
      guard let stat = read("\(task)/\(tid)/stat"), let state = state(fromStat: stat) else {
        continue  // the thread exited meanwhile
      }
      let syscall = read("\(task)/\(tid)/syscall").flatMap(syscallName(fromSyscallFile:))
      byState[syscall.map { "\(state) in \($0)" } ?? state, default: 0] += 1
    }
    return ThreadSummary(total: byState.values.reduce(0, +), byState: byState)
  }

  /// Field 22 of /proc/PID/stat (the start time), 0 when unreadable.
  static func startTime(pid: Int32) -> UInt64 {
    read("/proc/\(pid)/stat").flatMap(ProcFS.parseStat)?.startTime ?? 0
  }

  /// The state letter after the `(comm)` of a stat line, in words.
  static func state(fromStat text: String) -> String? {
    guard let close = text.lastIndex(of: ")") else { return nil }
    let rest = text[text.index(after: close)...].drop { $0 == " " }
    switch rest.first {
    case "R": return "running"
    case "S": return "sleeping"
    case "D": return "disk sleep"
    case "T", "t": return "stopped"
    case "Z": return "zombie"
    case "I": return "idle"
    case let other?: return String(other)
    case nil: return nil
    }
  }

  /// The syscall a blocked thread is in, from /proc/TID/syscall (`running` and `-1` mean none);
  /// x86-64 numbers of the calls Go threads block in, others by number.
  static func syscallName(fromSyscallFile text: String) -> String? {
    guard let first = text.split(separator: " ").first, let number = Int(first), number >= 0
    else { return nil }
    let names: [Int: String] = [
      0: "read", 1: "write", 7: "poll", 23: "select", 35: "nanosleep", 43: "accept",
      202: "futex", 230: "clock_nanosleep", 232: "epoll_wait", 270: "pselect6", 271: "ppoll",
      281: "epoll_pwait", 288: "accept4", 441: "epoll_pwait2", 449: "futex_waitv",
    ]
    return names[number] ?? "syscall \(number)"
  }

  private static func read(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return String(decoding: data, as: UTF8.self)
  }
}
