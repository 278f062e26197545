import Glibc

/// Who is on the other end of a control-socket connection, as the kernel reports it.
public struct PeerCredentials: Sendable, Equatable {
  /// The peer's process id at connect time (0 if it lives in another pid namespace).
  public var pid: Int32
  /// The peer's effective user id.
  public var uid: UInt32
  /// The peer's effective group id.
  public var gid: UInt32
  /// The peer's supplementary groups, from `/proc/PID/status`.
  public var groups: [UInt32]

  /// Credentials as given, e.g. to test an authorization decision.
  public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
    self.pid = pid
    self.uid = uid
    self.gid = gid
    self.groups = groups
  }

  /// A TCP peer, which has no kernel credentials: uid and gid `UInt32.max` (`(uid_t)-1`, which
  /// no process has), so it is neither root nor in any group and may never mutate.
  public static let network = PeerCredentials(pid: 0, uid: .max, gid: .max)

  /// Whether this peer may make mutating calls on a socket owned by `socketGroup`:
  /// it is root, or the group is its primary or a supplementary group. Never for uid
  /// `UInt32.max` (a ``network`` peer).
  public func allowsMutation(socketGroup: UInt32) -> Bool {
    uid != .max && (uid == 0 || gid == socketGroup || groups.contains(socketGroup))
  }

  /// The credentials of the peer of the connected socket `fd` (`SO_PEERCRED`), plus its groups.
  static func of(socket fd: Int32) throws -> PeerCredentials {
    var raw = KernelUCred()
    var length = socklen_t(MemoryLayout<KernelUCred>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &raw, &length) == 0 else {
      throw SystemCallError.current
    }
    let status = raw.pid > 0 ? readSmallFile("/proc/\(raw.pid)/status") : nil
    return PeerCredentials(
      pid: raw.pid, uid: raw.uid, gid: raw.gid, groups: status.map(supplementaryGroups) ?? [])
  }

  /// The ids on the `Groups:` line of a `/proc/PID/status` text.
  static func supplementaryGroups(procStatus: String) -> [UInt32] {
    for line in procStatus.split(separator: "\n") where line.hasPrefix("Groups:") {
      return line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
        .compactMap { UInt32($0) }
    }
    return []
  }
}

/// `struct ucred` from `<sys/socket.h>`, which Glibc's Swift module hides behind `_GNU_SOURCE`.
private struct KernelUCred {
  var pid: Int32 = 0
  var uid: UInt32 = 0
  var gid: UInt32 = 0
}

/// The text of a small file such as one under /proc, or nil if it cannot be read.
private func readSmallFile(_ path: String) -> String? {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var reader = ByteReader { buffer in
    let count = read(fd, buffer.baseAddress, buffer.count)
    guard count >= 0 else { throw SystemCallError.current }
    return count
  }
  var bytes: [UInt8] = []
  while let chunk = try? reader.readSome(), !chunk.isEmpty, bytes.count < 1 << 20 {
    bytes += chunk
  }
  return String(decoding: bytes, as: UTF8.self)
}
