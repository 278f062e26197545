extension TargetSpec {
  /// Checks the target's form: a positive pid, a non-empty executable name or absolute path, or an
  /// existing directory under `cgroupMount` (the cgroup2 mount, see `ProcFS.cgroup2Mount()`; nil
  /// when there is none).
  ///
  /// Errors come from source `target` with field `pid`, `executable` or `cgroup`. Whether a pid is
  /// running is for the caller to check when it attaches (`ProcFS.exists(pid:)`).
  public func validate(cgroupMount: String?) throws(ConfigError) {
    switch self {
    case .pid(let pid) where pid <= 0:
      throw invalid("must be a positive process id")
    case .executable(let name) where name.isEmpty:
      throw invalid("must not be empty")
    case .executable(let name) where name.contains("/") && !name.hasPrefix("/"):
      throw invalid("must be a file name or an absolute path")
    case .cgroup(let path):
      guard path.hasPrefix("/"),
        !path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." })
      else {
        throw invalid("must be an absolute path without . or .. components")
      }
      guard let cgroupMount else {
        throw invalid("cannot be watched: no cgroup2 file system is mounted")
      }
      guard CgroupPath.relative(path, to: cgroupMount) != nil else {
        throw invalid("is not under the cgroup2 mount \(cgroupMount)")
      }
      guard SystemFiles.isDirectory(path) else { throw invalid("does not exist") }
    default:
      return
    }
  }

  private func invalid(_ reason: String) -> ConfigError {
    ConfigError(source: "target", field: kind, value: value, reason: reason)
  }
}
