/// Reads processes from `/proc`. The parsers are pure and take the files' text.
public enum ProcFS {
  /// The pid, start time, names and cgroup of process `pid`.
  ///
  /// Throws `.gone` when the process exits or its pid is reused while it is read. The executable
  /// path is nil for kernel threads and for other users' processes without `CAP_SYS_PTRACE`.
  public static func snapshot(pid: Int32) throws(ProcFSError) -> ProcessSnapshot {
    let directory = "/proc/\(pid)"
    guard let stat = SystemFiles.read("\(directory)/stat") else { throw .gone(pid: pid) }
    guard let (comm, startTime) = parseStat(stat) else {
      throw .malformed(path: "\(directory)/stat")
    }
    let snapshot = ProcessSnapshot(
      pid: pid, startTime: startTime, comm: comm,
      executablePath: SystemFiles.readLink("\(directory)/exe"),
      argv0: SystemFiles.read("\(directory)/cmdline").flatMap(parseArgv0),
      cgroupPath: SystemFiles.read("\(directory)/cgroup").flatMap(parseCgroup))
    // A new start time means the pid was reused, and the reads above may mix two processes.
    guard let again = SystemFiles.read("\(directory)/stat"),
      parseStat(again)?.startTime == startTime
    else {
      throw .gone(pid: pid)
    }
    return snapshot
  }

  /// Ids of all processes (thread group leaders) now in `/proc`.
  public static func allPids() -> [Int32] {
    SystemFiles.entries("/proc").compactMap { Int32($0) }.filter { $0 > 0 }.sorted()
  }

  /// Whether process `pid` runs; false for a thread id that is not its thread group's id.
  public static func exists(pid: Int32) -> Bool {
    guard pid > 0, let status = SystemFiles.read("/proc/\(pid)/status") else { return false }
    return parseTgid(status) == pid
  }

  /// Where the cgroup v2 hierarchy is mounted (such as `/sys/fs/cgroup`), from
  /// `/proc/self/mountinfo`.
  public static func cgroup2Mount() -> String? {
    SystemFiles.read("/proc/self/mountinfo").flatMap(parseCgroup2Mount)
  }

  /// The `comm` and start time (field 22) of a `/proc/PID/stat` line. The `comm` may hold spaces
  /// and parentheses, so it runs from the first `(` to the last `)`.
  public static func parseStat(_ text: String) -> (comm: String, startTime: UInt64)? {
    guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close
    else {
      return nil
    }
    // Fields after the comm start at field 3 (state), so field 22 is the 20th of them.
    let rest = text[text.index(after: close)...].split(separator: " ")
    guard rest.count >= 20, let startTime = UInt64(rest[19]) else { return nil }
    return (String(text[text.index(after: open)..<close]), startTime)
  }

  /// The cgroup v2 path in `/proc/PID/cgroup`: the text after `0::` on its line.
  public static func parseCgroup(_ text: String) -> String? {
    text.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
  }

  /// The `Tgid:` value of `/proc/PID/status`.
  public static func parseTgid(_ text: String) -> Int32? {
    let line = text.split(separator: "\n").first { $0.hasPrefix("Tgid:") }
    return line?.dropFirst(5).split(whereSeparator: \.isWhitespace).first.flatMap { Int32($0) }
  }

  /// The first argument in `/proc/PID/cmdline` (NUL-separated); nil when empty.
  public static func parseArgv0(_ text: String) -> String? {
    let first =
      text.split(separator: "\0", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    return first.isEmpty ? nil : String(first)
  }

  /// The mount point of the last `cgroup2` line in `/proc/PID/mountinfo`: the one visible when
  /// mounts stack.
  public static func parseCgroup2Mount(_ text: String) -> String? {
    text.split(separator: "\n").compactMap { line -> String? in
      // id parent major:minor root mountpoint options [optional...] - fstype source options
      let fields = line.split(separator: " ")
      guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count,
        fields[dash + 1] == "cgroup2"
      else { return nil }
      return unescapeMountField(fields[4])
    }.last
  }

  /// Undoes the octal escapes (`\040` for a space) of mountinfo fields.
  private static func unescapeMountField(_ field: Substring) -> String {
    var bytes: [UInt8] = []
    var utf8 = field.utf8[...]
    while let byte = utf8.popFirst() {
      if byte == UInt8(ascii: "\\"), utf8.count >= 3,
        let code = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
      {
        bytes.append(code)
        utf8 = utf8.dropFirst(3)
      } else {
        bytes.append(byte)
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}

/// Why a process could not be read from `/proc`.
public enum ProcFSError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The process exited, or its pid was reused, while it was read.
  case gone(pid: Int32)
  /// A `/proc` file did not have the expected form.
  case malformed(path: String)

  /// A sentence for logs.
  public var description: String {
    switch self {
    case .gone(let pid): "process \(pid) is gone"
    case .malformed(let path): "\(path) has an unexpected format"
    }
  }
}
