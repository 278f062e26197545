import Glibc

/// What the kernel says one thread of a process is doing, from /proc/PID/task/TID: the state
/// letter of `stat`, the system call it is blocked in (`syscall`, readable by root or the
/// process's owner), and `wchan`. Read best effort: a field that cannot be read is nil.
public struct ThreadKernelState: Sendable, Hashable, Codable {
  public var tid: Int32
  /// `running`, `sleeping` (interruptible), `disk` (uninterruptible), `stopped`, `tracing`,
  /// `zombie`, `dead`, `idle`, or the raw letter when unknown.
  public var state: String
  /// The system call the thread is in, e.g. `futex`, `epoll_pwait`, `nanosleep`, `read`;
  /// `syscall_N` for one this table does not name. Nil when running in user space, or unknown.
  public var syscall: String?
  /// The kernel function it waits in (`/proc/.../wchan`), when the kernel exposes it.
  public var wchan: String?
  /// The thread's name (`comm`).
  public var name: String

  public init(tid: Int32, state: String, syscall: String?, wchan: String?, name: String) {
    (self.tid, self.state, self.syscall, self.wchan, self.name) = (tid, state, syscall, wchan, name)
  }

  /// Every thread of process `pid`; empty when the process is gone. Threads that exit while
  /// being read are left out; nothing throws.
  public static func threads(of pid: Int32) -> [ThreadKernelState] {
    guard let directory = opendir("/proc/\(pid)/task") else { return [] }
    defer { closedir(directory) }
    var tids: [Int32] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
      }
      if let tid = Int32(name) { tids.append(tid) }
    }
    return tids.sorted().compactMap { thread(pid: pid, tid: $0) }
  }

  /// One thread's state; nil when it is gone.
  public static func thread(pid: Int32, tid: Int32) -> ThreadKernelState? {
    let base = "/proc/\(pid)/task/\(tid)"
    guard let stat = ProcFS.read("\(base)/stat"),
      let open = stat.firstIndex(of: UInt8(ascii: "(")),
      let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count
    else { return nil }
    let name = String(decoding: stat[(open + 1)..<close], as: UTF8.self)
    let letter = Character(UnicodeScalar(stat[close + 2]))
    let state = stateNames[letter] ?? String(letter)
    var syscall: String?
    // "running", or "NR arg0 ... sp pc"; -1 when blocked outside a system call.
    if state != "running", let text = ProcFS.read("\(base)/syscall"),
      let first = String(decoding: text, as: UTF8.self).split(separator: " ").first,
      let number = Int(first.trimmingCharacters(in: .whitespacesAndNewlines)), number >= 0
    {
      syscall = syscallNames[number] ?? "syscall_\(number)"
    }
    let wchan = ProcFS.read("\(base)/wchan").map { String(decoding: $0, as: UTF8.self) }
      .flatMap { $0.isEmpty || $0 == "0" ? nil : $0 }
    return ThreadKernelState(tid: tid, state: state, syscall: syscall, wchan: wchan, name: name)
  }

  static let stateNames: [Character: String] = [
    "R": "running", "S": "sleeping", "D": "disk", "T": "stopped", "t": "tracing",
    "Z": "zombie", "X": "dead", "I": "idle", "P": "parked", "W": "waking",
  ]

  /// The numbers of the system calls threads commonly block in (they differ per architecture).
  #if arch(arm64)
    static let syscallNames: [Int: String] = [
      22: "epoll_pwait", 63: "read", 64: "write", 65: "readv", 66: "writev", 67: "pread64",
      68: "pwrite64", 72: "pselect6", 73: "ppoll", 98: "futex", 101: "nanosleep",
      115: "clock_nanosleep", 124: "sched_yield", 202: "accept", 206: "sendto", 207: "recvfrom",
      211: "sendmsg", 212: "recvmsg", 242: "accept4", 243: "recvmmsg", 260: "wait4",
      269: "sendmmsg",
      280: "bpf", 441: "epoll_pwait2",
    ]
  #else
    static let syscallNames: [Int: String] = [
      0: "read", 1: "write", 7: "poll", 17: "pread64", 18: "pwrite64", 19: "readv", 20: "writev",
      23: "select", 24: "sched_yield", 34: "pause", 35: "nanosleep", 43: "accept", 44: "sendto",
      45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 61: "wait4", 202: "futex",
      230: "clock_nanosleep", 232: "epoll_wait", 270: "pselect6", 271: "ppoll", 281: "epoll_pwait",
      288: "accept4", 299: "recvmmsg", 307: "sendmmsg", 321: "bpf", 441: "epoll_pwait2",
    ]
  #endif
}
