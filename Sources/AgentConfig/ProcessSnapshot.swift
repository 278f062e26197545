/// A process instance: a pid with its start time, which tells apart processes that reuse a pid.
public struct ProcessIdentity: Sendable, Hashable, Codable {
  /// Process (thread group) id.
  public var pid: Int32
  /// Start time in clock ticks after boot, field 22 of `/proc/PID/stat`.
  public var startTime: UInt64

  /// Creates an identity.
  public init(pid: Int32, startTime: UInt64) {
    self.pid = pid
    self.startTime = startTime
  }
}

/// What `/proc` says about one process, as far as target matching needs.
public struct ProcessSnapshot: Sendable, Hashable {
  /// Process (thread group) id.
  public var pid: Int32
  /// Start time in clock ticks after boot, field 22 of `/proc/PID/stat`.
  public var startTime: UInt64
  /// The command name, truncated by the kernel to `commBytes` bytes.
  public var comm: String
  /// Target of `/proc/PID/exe`; nil for kernel threads and when access is denied. Ends in `
  /// (deleted)` once the file was replaced or removed.
  public var executablePath: String?
  /// First element of `/proc/PID/cmdline`; nil when empty (kernel threads, zombies).
  public var argv0: String?
  /// The cgroup v2 path (the `0::` line of `/proc/PID/cgroup`), relative to the cgroup2 mount.
  public var cgroupPath: String?

  /// Longest `comm` the kernel keeps (`TASK_COMM_LEN` less the terminating NUL).
  public static let commBytes = 15

  /// Creates a snapshot.
  public init(
    pid: Int32, startTime: UInt64, comm: String, executablePath: String? = nil,
    argv0: String? = nil,
    cgroupPath: String? = nil
  ) {
    self.pid = pid
    self.startTime = startTime
    self.comm = comm
    self.executablePath = executablePath
    self.argv0 = argv0
    self.cgroupPath = cgroupPath
  }

  /// The pid and start time.
  public var identity: ProcessIdentity { ProcessIdentity(pid: pid, startTime: startTime) }

  /// The executable path without the ` (deleted)` that the kernel appends once the file is gone.
  public var liveExecutablePath: String? {
    guard let executablePath else { return nil }
    let marker = " (deleted)"
    return executablePath.hasSuffix(marker)
      ? String(executablePath.dropLast(marker.count)) : executablePath
  }
}
