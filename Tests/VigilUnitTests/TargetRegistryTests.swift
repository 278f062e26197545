import AgentConfig
import Foundation
import Logging
import Synchronization
import Testing

@testable import Agent

// MARK: Fakes

/// The kernel's target maps, simulated: records every call and keeps what is watched.
final class FakeKernelTargetSet: KernelTargetSet {
  enum Call: Equatable, Sendable {
    case watchProcess(Int32, targetID: UInt32)
    case unwatchProcess(Int32)
    case watchCgroup(UInt64, targetID: UInt32)
    case unwatchCgroup(UInt64)
    case setNeeds(execReports: Bool, cgroupLookups: Bool)
  }

  struct Failure: Error {}

  private struct State {
    var calls: [Call] = []
    var processes: [Int32: UInt32] = [:]
    var cgroups: [UInt64: UInt32] = [:]
    var failingPids: Set<Int32> = []
    var needs = Call.setNeeds(execReports: false, cgroupLookups: false)
  }

  private let state = Mutex(State())

  var calls: [Call] { state.withLock { $0.calls } }
  /// Watched pids and the target id the kernel reports for each.
  var watchedProcesses: [Int32: UInt32] { state.withLock { $0.processes } }
  var watchedCgroups: [UInt64: UInt32] { state.withLock { $0.cgroups } }
  /// The last `setNeeds` call (both off before any).
  var needs: Call { state.withLock { $0.needs } }

  /// Makes `watchProcess` throw for `pid` (a full map, say).
  func failWatching(_ pid: Int32) { state.withLock { _ = $0.failingPids.insert(pid) } }
  func clearCalls() { state.withLock { $0.calls = [] } }

  func watchProcess(_ pid: Int32, targetID: UInt32) throws {
    try state.withLock { state in
      state.calls.append(.watchProcess(pid, targetID: targetID))
      if state.failingPids.contains(pid) { throw Failure() }
      state.processes[pid] = targetID
    }
  }
  func unwatchProcess(_ pid: Int32) throws {
    state.withLock { state in
      state.calls.append(.unwatchProcess(pid))
      state.processes[pid] = nil
    }
  }
  func watchCgroup(_ cgroupID: UInt64, targetID: UInt32) throws {
    state.withLock { state in
      state.calls.append(.watchCgroup(cgroupID, targetID: targetID))
      state.cgroups[cgroupID] = targetID
    }
  }
  func unwatchCgroup(_ cgroupID: UInt64) throws {
    state.withLock { state in
      state.calls.append(.unwatchCgroup(cgroupID))
      state.cgroups[cgroupID] = nil
    }
  }
  func setNeeds(execReports: Bool, cgroupLookups: Bool) throws {
    state.withLock { state in
      state.calls.append(.setNeeds(execReports: execReports, cgroupLookups: cgroupLookups))
      state.needs = .setNeeds(execReports: execReports, cgroupLookups: cgroupLookups)
    }
  }
}

/// The node's processes and cgroups, as a dictionary the test changes.
final class FakeProcessSource: ProcessSource {
  private struct State {
    var processes: [Int32: ProcessSnapshot] = [:]
    var mount: String? = "/sys/fs/cgroup"
    var cgroups: [String: UInt64] = [:]
  }

  private let state = Mutex(State())

  init(_ processes: [ProcessSnapshot] = [], cgroups: [String: UInt64] = [:]) {
    state.withLock { state in
      for process in processes { state.processes[process.pid] = process }
      state.cgroups = cgroups
    }
  }

  func set(_ process: ProcessSnapshot) { state.withLock { $0.processes[process.pid] = process } }
  func remove(pid: Int32) { state.withLock { $0.processes[pid] = nil } }
  func setMount(_ mount: String?) { state.withLock { $0.mount = mount } }

  func snapshot(pid: Int32) -> ProcessSnapshot? { state.withLock { $0.processes[pid] } }
  func allPids() -> [Int32] { state.withLock { $0.processes.keys.sorted() } }
  func cgroupMount() -> String? { state.withLock { $0.mount } }
  func cgroupID(path: String) -> UInt64? { state.withLock { $0.cgroups[path] } }
}

extension Logger {
  /// A logger that drops everything, so tests stay quiet.
  static let quiet = Logger(label: "vigil.tests") { _ in SwiftLogNoOpLogHandler() }
}

/// Process ids above the kernel's `pid_max` limit (2^22): never the test runner's own pid, which
/// the registry skips when matching.
enum TestPid {
  static let a: Int32 = 5_000_001
  static let b: Int32 = 5_000_002
  static let c: Int32 = 5_000_003
  static let d: Int32 = 5_000_004
}

extension ProcessSnapshot {
  static func nginx(
    _ pid: Int32, startTime: UInt64 = 100, cgroup: String = "/system.slice/nginx.service"
  )
    -> ProcessSnapshot
  {
    ProcessSnapshot(
      pid: pid, startTime: startTime, comm: "nginx", executablePath: "/usr/sbin/nginx",
      argv0: "nginx: worker process", cgroupPath: cgroup)
  }

  static func bash(
    _ pid: Int32, startTime: UInt64 = 100, cgroup: String = "/user.slice/session-1.scope"
  )
    -> ProcessSnapshot
  {
    ProcessSnapshot(
      pid: pid, startTime: startTime, comm: "bash", executablePath: "/usr/bin/bash", argv0: "-bash",
      cgroupPath: cgroup)
  }
}

// MARK: Tests

@Suite struct TargetRegistryTests {
  let kernel = FakeKernelTargetSet()
  let processes = FakeProcessSource(
    [.nginx(TestPid.a), .nginx(TestPid.b), .bash(TestPid.c)],
    cgroups: ["/sys/fs/cgroup/system.slice": 1001, "/sys/fs/cgroup/user.slice": 1002])

  func makeRegistry() -> TargetRegistry {
    TargetRegistry(kernel: kernel, processes: processes, logger: .quiet)
  }

  // MARK: pid targets

  @Test func addPidTargetWatchesTheProcess() throws {
    let registry = makeRegistry()
    let target = try registry.add(.pid(TestPid.c), source: .api)
    #expect(target.id == 1)
    #expect(target.spec == .pid(TestPid.c))
    #expect(target.source == .api)
    #expect(target.processes == [ProcessIdentity(pid: TestPid.c, startTime: 100)])
    #expect(target.cgroupID == nil)
    #expect(registry.targets == [target])
    #expect(
      kernel.calls == [
        .watchProcess(TestPid.c, targetID: 1), .setNeeds(execReports: false, cgroupLookups: false),
      ])
    #expect(kernel.watchedProcesses == [TestPid.c: 1])
  }

  @Test func targetIDsIncrease() throws {
    let registry = makeRegistry()
    let first = try registry.add(.pid(TestPid.a), source: .config)
    let second = try registry.add(.pid(TestPid.c), source: .api)
    #expect(first.id == 1)
    #expect(second.id == 2)
    #expect(registry.targets.map(\.id) == [1, 2])
    #expect(registry.targets.map(\.source) == [.config, .api])
  }

  @Test func unknownPidIsNotFound() {
    let registry = makeRegistry()
    #expect {
      try registry.add(.pid(TestPid.d), source: .api)
    } throws: { error in
      let error = error as? TargetError
      return error?.kind == .notFound && error?.field == "pid"
    }
    #expect(registry.targets.isEmpty)
    #expect(kernel.calls.isEmpty)
  }

  @Test(arguments: [0, -1, Int32.min])
  func nonPositivePidIsInvalid(pid: Int32) {
    let registry = makeRegistry()
    #expect {
      try registry.add(.pid(pid), source: .api)
    } throws: { error in
      let error = error as? TargetError
      return error?.kind == .invalid && error?.field == "pid"
    }
    #expect(registry.targets.isEmpty)
    #expect(kernel.calls.isEmpty)
  }

  // MARK: executable targets

  @Test func executableTargetMatchesExistingProcesses() throws {
    let registry = makeRegistry()
    let target = try registry.add(.executable("nginx"), source: .config)
    #expect(target.processes.map(\.pid).sorted() == [TestPid.a, TestPid.b])
    #expect(kernel.watchedProcesses == [TestPid.a: 1, TestPid.b: 1])
    #expect(kernel.calls.last == .setNeeds(execReports: true, cgroupLookups: false))
  }

  @Test func executableTargetByPath() throws {
    let registry = makeRegistry()
    let target = try registry.add(.executable("/usr/bin/bash"), source: .config)
    #expect(target.processes == [ProcessIdentity(pid: TestPid.c, startTime: 100)])
  }

  @Test func executableTargetWithoutProcessesIsKept() throws {
    let registry = makeRegistry()
    let target = try registry.add(.executable("postgres"), source: .api)
    #expect(target.processes.isEmpty)
    #expect(registry.targets.count == 1)
    #expect(kernel.watchedProcesses.isEmpty)
    #expect(kernel.needs == .setNeeds(execReports: true, cgroupLookups: false))
  }

  @Test func emptyExecutableIsInvalid() {
    let registry = makeRegistry()
    #expect {
      try registry.add(.executable(""), source: .api)
    } throws: { error in
      let error = error as? TargetError
      return error?.kind == .invalid && error?.field == "executable"
    }
  }

  @Test func executedProcessJoinsAMatchingTarget() throws {
    let registry = makeRegistry()
    let target = try registry.add(.executable("nginx"), source: .config)
    kernel.clearCalls()

    processes.set(.nginx(TestPid.d, startTime: 500))
    registry.processExecuted(pid: TestPid.d)
    #expect(kernel.calls == [.watchProcess(TestPid.d, targetID: UInt32(target.id))])
    let updated = try #require(registry.targets.first)
    #expect(updated.processes.contains(ProcessIdentity(pid: TestPid.d, startTime: 500)))
    #expect(updated.processes.count == 3)
  }

  @Test func executedProcessThatMatchesNothingIsIgnored() throws {
    let registry = makeRegistry()
    try registry.add(.executable("nginx"), source: .config)
    kernel.clearCalls()
    processes.set(.bash(TestPid.d))
    registry.processExecuted(pid: TestPid.d)
    // Gone before it could be read.
    registry.processExecuted(pid: 5_999_999)
    #expect(kernel.calls.isEmpty)
    #expect(registry.targets.first?.processes.count == 2)
  }

  @Test func execWithoutExecutableTargetsIsIgnored() throws {
    let registry = makeRegistry()
    try registry.add(.pid(TestPid.c), source: .config)
    kernel.clearCalls()
    processes.set(.nginx(TestPid.d))
    registry.processExecuted(pid: TestPid.d)
    #expect(kernel.calls.isEmpty)
  }

  /// A process re-executing the same program is not listed twice.
  @Test func repeatedExecDoesNotDuplicate() throws {
    let registry = makeRegistry()
    try registry.add(.executable("nginx"), source: .config)
    registry.processExecuted(pid: TestPid.a)
    let pids = try #require(registry.targets.first).processes.map(\.pid)
    #expect(pids.sorted() == [TestPid.a, TestPid.b])
  }

  /// Two executable targets that both select a process started later both list it, as they
  /// would had it been running when they were added.
  @Test func executedProcessJoinsEveryMatchingTarget() throws {
    let registry = makeRegistry()
    let byName = try registry.add(.executable("nginx"), source: .config)
    let byPath = try registry.add(.executable("/usr/sbin/nginx"), source: .config)
    #expect(byName.processes.map(\.pid).sorted() == [TestPid.a, TestPid.b])
    #expect(byPath.processes.map(\.pid).sorted() == [TestPid.a, TestPid.b])

    processes.set(.nginx(TestPid.d))
    registry.processExecuted(pid: TestPid.d)
    for target in registry.targets {
      #expect(
        target.processes.map(\.pid).contains(TestPid.d),
        "target \(target.id) (\(target.spec)) does not list the new process")
    }
    // Removing one target must leave the process watched for the other.
    try registry.remove(id: byName.id)
    #expect(kernel.watchedProcesses[TestPid.d] != nil)
  }

  // MARK: cgroup targets

  @Test func cgroupTargetWatchesTheCgroupID() throws {
    let registry = makeRegistry()
    let target = try registry.add(.cgroup("/sys/fs/cgroup/system.slice"), source: .api)
    #expect(target.cgroupID == 1001)
    #expect(target.processes.map(\.pid).sorted() == [TestPid.a, TestPid.b])
    #expect(
      kernel.calls == [
        .watchCgroup(1001, targetID: UInt32(target.id)),
        .setNeeds(execReports: false, cgroupLookups: true),
      ])
    #expect(kernel.watchedProcesses.isEmpty)
    #expect(kernel.watchedCgroups == [1001: UInt32(target.id)])
  }

  @Test func cgroupMountItselfIsATarget() throws {
    let fake = FakeProcessSource([.bash(TestPid.c)], cgroups: ["/sys/fs/cgroup": 1])
    let registry = TargetRegistry(kernel: kernel, processes: fake, logger: .quiet)
    let target = try registry.add(.cgroup("/sys/fs/cgroup"), source: .api)
    #expect(target.cgroupID == 1)
    #expect(target.processes.map(\.pid) == [TestPid.c])
    #expect(kernel.watchedCgroups == [1: UInt32(target.id)])
  }

  @Test(arguments: ["/sys/fs/cgroupfoo/web.slice", "/tmp/web.slice", "/sys/fs", "relative/path"])
  func cgroupOutsideTheMountIsInvalid(path: String) {
    let registry = makeRegistry()
    #expect {
      try registry.add(.cgroup(path), source: .api)
    } throws: { error in
      let error = error as? TargetError
      return error?.kind == .invalid && error?.field == "cgroup"
    }
    #expect(kernel.calls.isEmpty)
  }

  @Test func missingCgroupIsNotFound() {
    let registry = makeRegistry()
    #expect {
      try registry.add(.cgroup("/sys/fs/cgroup/missing.slice"), source: .api)
    } throws: { error in
      let error = error as? TargetError
      return error?.kind == .notFound && error?.field == "cgroup"
    }
    #expect(registry.targets.isEmpty)
    #expect(kernel.calls.isEmpty)
  }

  @Test func cgroupWithoutCgroup2MountIsInvalid() {
    let registry = makeRegistry()
    processes.setMount(nil)
    #expect {
      try registry.add(.cgroup("/sys/fs/cgroup/system.slice"), source: .api)
    } throws: { error in
      let error = error as? TargetError
      return error?.kind == .invalid && error?.field == "cgroup"
    }
  }

  // MARK: duplicates and removal

  @Test func duplicateReturnsTheExistingTarget() throws {
    let registry = makeRegistry()
    let first = try registry.add(.executable("nginx"), source: .config)
    let callsAfterFirst = kernel.calls
    let again = try registry.add(.executable("nginx"), source: .api)
    #expect(again == first)
    #expect(again.source == .config)
    #expect(registry.targets.count == 1)
    #expect(kernel.calls == callsAfterFirst)

    let pid = try registry.add(.pid(TestPid.c), source: .api)
    #expect(try registry.add(.pid(TestPid.c), source: .api).id == pid.id)
    #expect(registry.targets.count == 2)
  }

  @Test func removeUnwatchesOnlyPidsNoOtherTargetHolds() throws {
    let registry = makeRegistry()
    let pidTarget = try registry.add(.pid(TestPid.a), source: .api)
    let executable = try registry.add(.executable("nginx"), source: .api)
    #expect(executable.processes.map(\.pid).sorted() == [TestPid.a, TestPid.b])
    kernel.clearCalls()

    try registry.remove(id: executable.id)
    #expect(kernel.calls.contains(.unwatchProcess(TestPid.b)))
    #expect(!kernel.calls.contains(.unwatchProcess(TestPid.a)))
    #expect(kernel.calls.last == .setNeeds(execReports: false, cgroupLookups: false))
    #expect(kernel.watchedProcesses.keys.sorted() == [TestPid.a])
    #expect(registry.targets.map(\.id) == [pidTarget.id])

    kernel.clearCalls()
    try registry.remove(id: pidTarget.id)
    #expect(
      kernel.calls == [
        .unwatchProcess(TestPid.a), .setNeeds(execReports: false, cgroupLookups: false),
      ])
    #expect(kernel.watchedProcesses.isEmpty)
    #expect(registry.targets.isEmpty)
  }

  @Test func removeCgroupTargetUnwatchesTheCgroup() throws {
    let registry = makeRegistry()
    let target = try registry.add(.cgroup("/sys/fs/cgroup/user.slice"), source: .api)
    try registry.remove(id: target.id)
    #expect(kernel.calls.contains(.unwatchCgroup(1002)))
    #expect(kernel.watchedCgroups.isEmpty)
    #expect(kernel.needs == .setNeeds(execReports: false, cgroupLookups: false))
  }

  @Test func removeUnknownIDIsNotFound() throws {
    let registry = makeRegistry()
    try registry.add(.pid(TestPid.a), source: .api)
    #expect {
      try registry.remove(id: 99)
    } throws: { error in
      let error = error as? TargetError
      return error?.kind == .notFound && error?.field == "id"
    }
    #expect(registry.targets.count == 1)
  }

  /// A target that cannot be written to the kernel is not added, and what other targets watch
  /// stays watched.
  @Test func failedAddLeavesOtherTargetsWatched() throws {
    let registry = makeRegistry()
    let pidTarget = try registry.add(.pid(TestPid.a), source: .api)
    kernel.failWatching(TestPid.b)
    #expect(throws: TargetError.self) { try registry.add(.executable("nginx"), source: .api) }
    #expect(registry.targets.map(\.id) == [pidTarget.id])
    #expect(kernel.watchedProcesses[TestPid.b] == nil)
    #expect(
      kernel.watchedProcesses[TestPid.a] != nil,
      "pid \(TestPid.a) of target \(pidTarget.id) was unwatched by the failed add")
  }

  /// A cgroup target lists the processes in its cgroup but does not watch them by pid: removing a
  /// pid target for one of them takes the pid out of the kernel's pid map (the cgroup lookup still
  /// covers it while it stays in the cgroup).
  @Test func removingAPidTargetInsideAWatchedCgroupUnwatchesThePid() throws {
    let registry = makeRegistry()
    let cgroup = try registry.add(.cgroup("/sys/fs/cgroup/system.slice"), source: .api)
    #expect(cgroup.processes.map(\.pid).contains(TestPid.a))
    let pidTarget = try registry.add(.pid(TestPid.a), source: .api)
    #expect(kernel.watchedProcesses == [TestPid.a: UInt32(pidTarget.id)])

    try registry.remove(id: pidTarget.id)
    #expect(
      kernel.watchedProcesses[TestPid.a] == nil,
      "pid \(TestPid.a) is still in the kernel's pid map, under removed target \(pidTarget.id)")
  }

  // MARK: exits and rescans

  @Test func exitEndsPidTargetsAndLeavesOthers() throws {
    let registry = makeRegistry()
    let pidTarget = try registry.add(.pid(TestPid.a), source: .api)
    let executable = try registry.add(.executable("nginx"), source: .api)
    registry.processExited(pid: TestPid.a)
    #expect(registry.targets.map(\.id) == [executable.id])
    #expect(registry.targets.first?.processes.map(\.pid) == [TestPid.b])
    #expect(!registry.targets.contains { $0.id == pidTarget.id })
    // Another exit of an unknown pid changes nothing.
    registry.processExited(pid: TestPid.d)
    #expect(registry.targets.first?.processes.map(\.pid) == [TestPid.b])
  }

  @Test func rescanDetectsAReusedPid() throws {
    let registry = makeRegistry()
    try registry.add(.pid(TestPid.c), source: .api)
    kernel.clearCalls()

    // Unchanged: nothing happens.
    registry.rescan()
    #expect(kernel.calls.isEmpty)
    #expect(registry.targets.count == 1)

    // Same pid, another process (the exit record was lost).
    processes.set(.bash(TestPid.c, startTime: 999))
    registry.rescan()
    #expect(kernel.calls == [.unwatchProcess(TestPid.c)])
    #expect(registry.targets.isEmpty)
    #expect(kernel.watchedProcesses.isEmpty)
  }

  @Test func rescanDropsAVanishedProcess() throws {
    let registry = makeRegistry()
    try registry.add(.pid(TestPid.c), source: .api)
    processes.remove(pid: TestPid.c)
    registry.rescan()
    #expect(kernel.calls.contains(.unwatchProcess(TestPid.c)))
    #expect(registry.targets.isEmpty)
  }

  @Test func rescanPicksUpMissedExecsAndReusedPids() throws {
    let registry = makeRegistry()
    let target = try registry.add(.executable("nginx"), source: .api)
    kernel.clearCalls()

    // A new nginx whose exec record was missed, and pid b reused by another nginx.
    processes.set(.nginx(TestPid.d, startTime: 700))
    processes.set(.nginx(TestPid.b, startTime: 800))
    registry.rescan()
    let processes = try #require(registry.targets.first { $0.id == target.id }).processes
    #expect(
      Set(processes) == [
        ProcessIdentity(pid: TestPid.a, startTime: 100),
        ProcessIdentity(pid: TestPid.b, startTime: 800),
        ProcessIdentity(pid: TestPid.d, startTime: 700),
      ])
    #expect(processes.count == 3)
    #expect(kernel.calls.contains(.unwatchProcess(TestPid.b)))
    #expect(kernel.calls.contains(.watchProcess(TestPid.d, targetID: UInt32(target.id))))
    #expect(kernel.watchedProcesses.keys.sorted() == [TestPid.a, TestPid.b, TestPid.d])
  }

  /// A pid target's process exited unseen and its pid went to a new process, which an executable
  /// target picked up at exec: the rescan ends the pid target but keeps the new process watched
  /// for the executable target.
  @Test func rescanKeepsAReusedPidThatAnotherTargetHolds() throws {
    let registry = makeRegistry()
    try registry.add(.pid(TestPid.c), source: .api)
    let executable = try registry.add(.executable("nginx"), source: .api)

    processes.set(.nginx(TestPid.c, startTime: 900))
    registry.processExecuted(pid: TestPid.c)
    let reused = ProcessIdentity(pid: TestPid.c, startTime: 900)
    #expect(try #require(registry.targets.last).processes.contains(reused))

    registry.rescan()
    #expect(registry.targets.map(\.id) == [executable.id])
    #expect(
      try #require(registry.targets.first).processes.contains(reused),
      "the executable target lost pid \(TestPid.c) on the rescan")
    #expect(
      kernel.watchedProcesses[TestPid.c] != nil,
      "pid \(TestPid.c) was unwatched although the executable target selects it")
  }

  @Test func resyncRewritesEverything() throws {
    let registry = makeRegistry()
    let pid = try registry.add(.pid(TestPid.c), source: .api)
    let cgroup = try registry.add(.cgroup("/sys/fs/cgroup/system.slice"), source: .api)
    kernel.clearCalls()
    registry.resync()
    #expect(kernel.calls.contains(.watchProcess(TestPid.c, targetID: UInt32(pid.id))))
    #expect(kernel.calls.contains(.watchCgroup(1001, targetID: UInt32(cgroup.id))))
    #expect(kernel.calls.last == .setNeeds(execReports: false, cgroupLookups: true))
  }

  // MARK: kernel needs

  @Test func needsFollowTheTargets() throws {
    let registry = makeRegistry()
    let pid = try registry.add(.pid(TestPid.c), source: .api)
    #expect(kernel.needs == .setNeeds(execReports: false, cgroupLookups: false))
    let executable = try registry.add(.executable("nginx"), source: .api)
    #expect(kernel.needs == .setNeeds(execReports: true, cgroupLookups: false))
    let cgroup = try registry.add(.cgroup("/sys/fs/cgroup/user.slice"), source: .api)
    #expect(kernel.needs == .setNeeds(execReports: true, cgroupLookups: true))
    try registry.remove(id: executable.id)
    #expect(kernel.needs == .setNeeds(execReports: false, cgroupLookups: true))
    try registry.remove(id: cgroup.id)
    #expect(kernel.needs == .setNeeds(execReports: false, cgroupLookups: false))
    try registry.remove(id: pid.id)
    #expect(kernel.needs == .setNeeds(execReports: false, cgroupLookups: false))
  }
}
