import AgentConfig
import ControlAPI
import Foundation
import GoProcess

/// What a process's threads are doing in the kernel, counted for leak reports.
enum ThreadStates {
  /// The threads of `pid` counted by state and system call, e.g. `sleeping in futex`; nil when
  /// the process is gone.
  static func summary(pid: Int32) -> ThreadSummary? {
    let threads = ThreadKernelState.threads(of: pid)
    guard !threads.isEmpty else { return nil }
    var byState: [String: Int] = [:]
    for thread in threads {
      byState[thread.syscall.map { "\(thread.state) in \($0)" } ?? thread.state, default: 0] += 1
    }
    return ThreadSummary(total: threads.count, byState: byState)
  }

  /// Field 22 of /proc/PID/stat (the start time), 0 when unreadable.
  static func startTime(pid: Int32) -> UInt64 {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return 0 }
    return ProcFS.parseStat(String(decoding: data, as: UTF8.self))?.startTime ?? 0
  }
}
