import BPFCore
import Probes

/// Where the registry writes the processes and cgroups the kernel filters on.
/// `BlockingProbes` in the daemon; a fake in unit tests.
public protocol KernelTargetSet: Sendable {
  func watchProcess(_ pid: Int32, targetID: UInt32) throws
  func unwatchProcess(_ pid: Int32) throws
  func watchCgroup(_ cgroupID: UInt64, targetID: UInt32) throws
  func unwatchCgroup(_ cgroupID: UInt64) throws
  /// Turns on what the current targets need: exec reports (executable targets), cgroup lookups.
  func setNeeds(execReports: Bool, cgroupLookups: Bool) throws
}

/// The probes as the registry's kernel target set; `settings` is the rest of the live settings.
public final class ProbeTargetSet: KernelTargetSet {
  private let probes: BlockingProbes
  private let settings: LockedValue<ProbeSettings>

  public init(probes: BlockingProbes, settings: ProbeSettings) {
    self.probes = probes
    self.settings = LockedValue(settings)
  }

  public func watchProcess(_ pid: Int32, targetID: UInt32) throws {
    try probes.watchProcess(pid, targetID: targetID)
  }
  public func unwatchProcess(_ pid: Int32) throws { try probes.unwatchProcess(pid) }
  public func watchCgroup(_ cgroupID: UInt64, targetID: UInt32) throws {
    try probes.watchCgroup(cgroupID, targetID: targetID)
  }
  public func unwatchCgroup(_ cgroupID: UInt64) throws { try probes.unwatchCgroup(cgroupID) }

  public func setNeeds(execReports: Bool, cgroupLookups: Bool) throws {
    let updated = settings.withLock { settings in
      settings.reportExec = execReports
      settings.hasCgroupTargets = cgroupLookups
      return settings
    }
    try probes.apply(updated)
  }
}
