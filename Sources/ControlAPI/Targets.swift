/// How a target selects the processes to watch.
public enum TargetKind: String, Codable, Sendable, CaseIterable {
  /// One process by id.
  case pid
  /// Every process running an executable, by path or name.
  case executable
  /// Every process in a cgroup v2 directory.
  case cgroup
}

/// One configured target.
public struct TargetInfo: Codable, Sendable, Equatable {
  /// The daemon-assigned id, used by `DELETE /v1/targets/{id}`.
  public var id: Int
  /// How ``value`` selects processes.
  public var kind: TargetKind
  /// The pid, executable or cgroup path as given.
  public var value: String
  /// The processes currently matched.
  public var pids: [Int32]
  /// When the target was added, RFC 3339.
  public var addedAt: String
  /// Where the target came from: `config` or `api`.
  public var source: String

  /// Creates a target description from its fields.
  public init(
    id: Int, kind: TargetKind, value: String, pids: [Int32], addedAt: String, source: String
  ) {
    self.id = id
    self.kind = kind
    self.value = value
    self.pids = pids
    self.addedAt = addedAt
    self.source = source
  }
}

/// `GET /v1/targets`.
public struct TargetList: Codable, Sendable, Equatable {
  /// All targets, in id order.
  public var targets: [TargetInfo]

  /// Creates a list.
  public init(targets: [TargetInfo]) {
    self.targets = targets
  }
}

/// `POST /v1/targets`: exactly one field is set.
public struct TargetRequest: Codable, Sendable, Equatable {
  /// A process id.
  public var pid: Int32?
  /// An executable path or name.
  public var executable: String?
  /// A cgroup v2 path.
  public var cgroup: String?

  /// A request with the given fields; set exactly one.
  public init(pid: Int32? = nil, executable: String? = nil, cgroup: String? = nil) {
    self.pid = pid
    self.executable = executable
    self.cgroup = cgroup
  }

  /// A request for `selector`.
  public init(_ selector: TargetSelector) {
    switch selector {
    case .pid(let pid): self.init(pid: pid)
    case .executable(let path): self.init(executable: path)
    case .cgroup(let path): self.init(cgroup: path)
    }
  }

  /// The one selector this request sets; a 400 ``ErrorResponse`` naming the field otherwise.
  public func selector() throws(ErrorResponse) -> TargetSelector {
    switch (pid, executable, cgroup) {
    case (let pid?, nil, nil):
      guard pid > 0 else { throw ErrorResponse("pid must be positive, got \(pid)", field: "pid") }
      return .pid(pid)
    case (nil, let path?, nil):
      guard !path.isEmpty else {
        throw ErrorResponse("executable must not be empty", field: "executable")
      }
      return .executable(path)
    case (nil, nil, let path?):
      guard !path.isEmpty else { throw ErrorResponse("cgroup must not be empty", field: "cgroup") }
      return .cgroup(path)
    default:
      throw ErrorResponse("exactly one of pid, executable or cgroup must be set")
    }
  }
}

/// A validated ``TargetRequest``.
public enum TargetSelector: Sendable, Equatable {
  /// One process by id.
  case pid(Int32)
  /// An executable path or name.
  case executable(String)
  /// A cgroup v2 path.
  case cgroup(String)
}
