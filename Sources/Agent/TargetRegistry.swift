import AgentConfig
import Foundation
import Logging

/// A target the daemon watches, as the registry keeps it.
public struct Target: Sendable, Equatable {
  /// Where a target came from.
  public enum Source: String, Sendable, Codable { case config, api }

  public var id: Int
  public var spec: TargetSpec
  public var source: Source
  public var addedAt: Date
  /// The processes it selects now (cgroup targets: filtered in the kernel, listed when known).
  public var processes: [ProcessIdentity]
  /// Cgroup targets: the cgroup v2 directory's id (its inode).
  public var cgroupID: UInt64?
}

/// Why a target could not be added or removed; `field` names the request field.
public struct TargetError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Kind: Sendable, Equatable { case invalid, notFound }
  public var kind: Kind
  public var field: String?
  public var message: String
  public var description: String { message }
}

/// Reads the processes of the node (procfs in the daemon, a fake in tests).
public protocol ProcessSource: Sendable {
  func snapshot(pid: Int32) -> ProcessSnapshot?
  func allPids() -> [Int32]
  /// The cgroup v2 mount point, e.g. /sys/fs/cgroup/unified.
  func cgroupMount() -> String?
  /// The id (inode) of a cgroup v2 directory, nil if it does not exist.
  func cgroupID(path: String) -> UInt64?
}

/// procfs and the cgroup filesystem.
public struct SystemProcessSource: ProcessSource {
  public init() {}
  public func snapshot(pid: Int32) -> ProcessSnapshot? { try? ProcFS.snapshot(pid: pid) }
  public func allPids() -> [Int32] { ProcFS.allPids() }
  public func cgroupMount() -> String? { ProcFS.cgroup2Mount() }
  public func cgroupID(path: String) -> UInt64? {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
    return UInt64(info.st_ino)
  }
}

/// The targets and the processes they select, kept in step with the kernel's target set.
///
/// Pid targets follow one process identity (pid + start time), so a reused pid
/// is never mistaken for the old process; they end when it exits. Executable
/// targets pick up processes at exec and on rescans. Cgroup targets are filtered
/// in the kernel by cgroup id.
public final class TargetRegistry: Sendable {
  private struct State {
    var targets: [Int: Target] = [:]
    var nextID = 1
  }

  private let state = LockedValue(State())
  private let kernel: any KernelTargetSet
  private let processes: any ProcessSource
  private let logger: Logger

  public init(
    kernel: any KernelTargetSet, processes: any ProcessSource = SystemProcessSource(),
    logger: Logger
  ) {
    self.kernel = kernel
    self.processes = processes
    self.logger = logger
  }

  /// All targets, by id.
  public var targets: [Target] { state.value.targets.values.sorted { $0.id < $1.id } }

  /// Adds a target and starts watching what it selects. Adding a spec that is
  /// already a target returns the existing one.
  @discardableResult
  public func add(_ spec: TargetSpec, source: Target.Source) throws(TargetError) -> Target {
    if let existing = targets.first(where: { $0.spec == spec }) { return existing }
    var target = Target(
      id: 0, spec: spec, source: source, addedAt: Date(), processes: [], cgroupID: nil)
    switch spec {
    case .pid(let pid):
      guard pid > 0 else {
        throw TargetError(kind: .invalid, field: "pid", message: "pid must be positive, got \(pid)")
      }
      guard let process = processes.snapshot(pid: pid) else {
        throw TargetError(kind: .notFound, field: "pid", message: "no process with pid \(pid)")
      }
      target.processes = [process.identity]
    case .executable(let name):
      guard !name.isEmpty else {
        throw TargetError(
          kind: .invalid, field: "executable", message: "executable must not be empty")
      }
      target.processes = matchingProcesses(spec)
    case .cgroup(let path):
      guard let mount = processes.cgroupMount() else {
        throw TargetError(
          kind: .invalid, field: "cgroup", message: "no cgroup v2 filesystem is mounted")
      }
      guard path.hasPrefix(mount + "/") || path == mount else {
        throw TargetError(
          kind: .invalid, field: "cgroup",
          message: "cgroup \(path) is not under the cgroup v2 mount \(mount)")
      }
      guard let id = processes.cgroupID(path: path) else {
        throw TargetError(
          kind: .notFound, field: "cgroup", message: "cgroup \(path) does not exist")
      }
      target.cgroupID = id
      target.processes = matchingProcesses(spec)
    }

    target.id = state.withLock { state in
      defer { state.nextID += 1 }
      return state.nextID
    }
    do {
      if let cgroupID = target.cgroupID {
        try kernel.watchCgroup(cgroupID, targetID: UInt32(target.id))
      } else {
        for process in target.processes {
          try kernel.watchProcess(process.pid, targetID: UInt32(target.id))
        }
      }
    } catch {
      let held = individuallyWatchedPids()
      for process in target.processes where !held.contains(process.pid) {
        try? kernel.unwatchProcess(process.pid)
      }
      throw TargetError(kind: .invalid, field: nil, message: "cannot watch \(spec): \(error)")
    }
    state.withLock { $0.targets[target.id] = target }
    try? updateKernelNeeds()
    logger.info(
      "watching target",
      metadata: [
        "target.id": "\(target.id)", "target.spec": "\(spec)",
        "target.pids": "\(target.processes.map(\.pid))",
      ])
    return target
  }

  /// Removes a target and stops watching the processes no other target selects.
  public func remove(id: Int) throws(TargetError) {
    guard let target = state.withLock({ $0.targets.removeValue(forKey: id) }) else {
      throw TargetError(kind: .notFound, field: "id", message: "no target with id \(id)")
    }
    if target.cgroupID == nil {
      let stillWatched = individuallyWatchedPids()
      for process in target.processes where !stillWatched.contains(process.pid) {
        try? kernel.unwatchProcess(process.pid)
      }
    }
    if let cgroupID = target.cgroupID { try? kernel.unwatchCgroup(cgroupID) }
    try? updateKernelNeeds()
    logger.info(
      "stopped watching target", metadata: ["target.id": "\(id)", "target.spec": "\(target.spec)"])
  }

  /// A targeted process exited (the kernel already dropped it): forget it; a pid target ends.
  public func processExited(pid: Int32) {
    let ended = state.withLock { state -> [Target] in
      var ended: [Target] = []
      for (id, var target) in state.targets
      where target.processes.contains(where: { $0.pid == pid }) {
        target.processes.removeAll { $0.pid == pid }
        if case .pid = target.spec {
          state.targets[id] = nil
          ended.append(target)
        } else {
          state.targets[id] = target
        }
      }
      return ended
    }
    for target in ended {
      logger.info(
        "target process exited", metadata: ["target.id": "\(target.id)", "pid": "\(pid)"])
    }
  }

  /// A process called exec: watch it if an executable target matches.
  public func processExecuted(pid: Int32) {
    let executableTargets = targets.filter { if case .executable = $0.spec { true } else { false } }
    guard !executableTargets.isEmpty, let process = processes.snapshot(pid: pid) else { return }
    let mount = processes.cgroupMount() ?? ""
    for target in executableTargets where target.spec.matches(process, cgroupMount: mount) {
      attach(process, to: target.id)
    }
  }

  /// Re-checks every watched process (a lost exit record, a reused pid) and
  /// looks for executable matches whose exec was missed.
  public func rescan() {
    for target in targets {
      for identity in target.processes
      where processes.snapshot(pid: identity.pid)?.startTime != identity.startTime {
        forget(identity, of: target.id)
      }
    }
    for target in targets {
      guard case .executable = target.spec else { continue }
      let known = Set(target.processes)
      for identity in matchingProcesses(target.spec) where !known.contains(identity) {
        if let process = processes.snapshot(pid: identity.pid) { attach(process, to: target.id) }
      }
    }
  }

  /// Drops a process identity that is gone (or whose pid was reused) from one target; a pid
  /// target ends. The kernel stops watching the pid unless another target holds it.
  private func forget(_ identity: ProcessIdentity, of targetID: Int) {
    let ended = state.withLock { state -> Bool in
      state.targets[targetID]?.processes.removeAll { $0 == identity }
      guard case .pid = state.targets[targetID]?.spec else { return false }
      state.targets[targetID] = nil
      return true
    }
    if !individuallyWatchedPids().contains(identity.pid) {
      try? kernel.unwatchProcess(identity.pid)
    }
    if ended {
      logger.info(
        "target process exited", metadata: ["target.id": "\(targetID)", "pid": "\(identity.pid)"])
    }
  }

  /// Pids that targets watch one by one (cgroup targets are filtered by cgroup id instead).
  private func individuallyWatchedPids() -> Set<Int32> {
    Set(targets.filter { $0.cgroupID == nil }.flatMap { $0.processes.map(\.pid) })
  }

  /// Re-writes every watched process and cgroup into the kernel's (e.g. after adopting pinned maps).
  public func resync() {
    for target in targets {
      if let cgroupID = target.cgroupID {
        try? kernel.watchCgroup(cgroupID, targetID: UInt32(target.id))
      }
      for process in target.processes {
        try? kernel.watchProcess(process.pid, targetID: UInt32(target.id))
      }
    }
    try? updateKernelNeeds()
  }

  private func attach(_ process: ProcessSnapshot, to targetID: Int) {
    do {
      try kernel.watchProcess(process.pid, targetID: UInt32(targetID))
    } catch {
      logger.warning(
        "cannot watch process", metadata: ["pid": "\(process.pid)", "error": "\(error)"])
      return
    }
    state.withLock { state in
      state.targets[targetID]?.processes.removeAll { $0.pid == process.pid }
      state.targets[targetID]?.processes.append(process.identity)
    }
    logger.info(
      "watching process",
      metadata: ["target.id": "\(targetID)", "pid": "\(process.pid)", "comm": "\(process.comm)"])
  }

  private func matchingProcesses(_ spec: TargetSpec) -> [ProcessIdentity] {
    let mount = processes.cgroupMount() ?? ""
    let own = getpid()
    return processes.allPids().compactMap { pid in
      guard pid != own, let process = processes.snapshot(pid: pid),
        spec.matches(process, cgroupMount: mount)
      else {
        return nil
      }
      return process.identity
    }
  }

  private func updateKernelNeeds() throws {
    let all = targets
    try kernel.setNeeds(
      execReports: all.contains { if case .executable = $0.spec { true } else { false } },
      cgroupLookups: all.contains { $0.cgroupID != nil })
  }
}
