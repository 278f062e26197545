extension TargetSpec {
  /// Whether process `p` is one this target describes.
  ///
  /// - An executable containing `/` is compared with the resolved executable path, less any
  ///   trailing ` (deleted)`; a bare name is compared with that path's file name, and its first 15
  ///   bytes with the `comm` (which the kernel truncates to 15 bytes).
  /// - A cgroup matches processes in that cgroup or below it; `cgroupMount` is the cgroup2 mount
  ///   that the target path and the process's `/proc/PID/cgroup` path are relative to.
  public func matches(_ p: ProcessSnapshot, cgroupMount: String) -> Bool {
    switch self {
    case .pid(let pid):
      return p.pid == pid
    case .executable(let name) where name.contains("/"):
      return p.liveExecutablePath == name
    case .executable(let name):
      if let path = p.liveExecutablePath, path.split(separator: "/").last.map(String.init) == name {
        return true
      }
      return Array(name.utf8.prefix(ProcessSnapshot.commBytes)) == Array(p.comm.utf8)
    case .cgroup(let path):
      // A path starting with /.. lies outside this process's cgroup namespace and cannot be placed.
      guard let target = CgroupPath.relative(path, to: cgroupMount), let own = p.cgroupPath,
        own.split(separator: "/").first != ".."
      else { return false }
      return target == "/" || own == target || own.hasPrefix(target + "/")
    }
  }
}

/// Paths of the cgroup2 hierarchy.
enum CgroupPath {
  /// `path` relative to `mount`, starting with `/` (`/` for the mount itself); nil unless `path` is
  /// under `mount`.
  static func relative(_ path: String, to mount: String) -> String? {
    let pathParts = path.split(separator: "/")
    let mountParts = mount.split(separator: "/")
    guard pathParts.starts(with: mountParts) else { return nil }
    return "/" + pathParts.dropFirst(mountParts.count).joined(separator: "/")
  }
}
