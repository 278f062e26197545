import CVigilABI

/// The live settings of the blocking probes (the `vigil_settings` map).
public struct ProbeSettings: Sendable, Equatable {
  /// Report off-CPU episodes at least this long.
  public var offcpuThresholdNanoseconds: UInt64
  /// Report futex waits at least this long.
  public var futexThresholdNanoseconds: UInt64
  /// Wake the consumer once this many bytes are pending (batched wake-ups).
  public var wakeupBytes: UInt64
  /// Sleep states whose off-CPU episodes are reported.
  public var reportInterruptible: Bool
  public var reportUninterruptible: Bool
  /// Emit exec records so user space can match executable targets.
  public var reportExec: Bool
  /// User stack frames captured per episode (0...32).
  public var stackDepth: UInt32
  /// Whether any cgroup target exists (enables the cgroup lookup in the kernel).
  public var hasCgroupTargets: Bool

  public init(
    offcpuThresholdNanoseconds: UInt64 = 10_000_000, futexThresholdNanoseconds: UInt64 = 10_000_000,
    wakeupBytes: UInt64 = 256 * 1024, reportInterruptible: Bool = true,
    reportUninterruptible: Bool = true, reportExec: Bool = false, stackDepth: UInt32 = 32,
    hasCgroupTargets: Bool = false
  ) {
    self.offcpuThresholdNanoseconds = offcpuThresholdNanoseconds
    self.futexThresholdNanoseconds = futexThresholdNanoseconds
    self.wakeupBytes = wakeupBytes
    self.reportInterruptible = reportInterruptible
    self.reportUninterruptible = reportUninterruptible
    self.reportExec = reportExec
    self.stackDepth = stackDepth
    self.hasCgroupTargets = hasCgroupTargets
  }

  var abiValue: vigil_settings {
    var value = vigil_settings()
    value.offcpu_min_ns = offcpuThresholdNanoseconds
    value.futex_min_ns = futexThresholdNanoseconds
    value.wakeup_bytes = wakeupBytes
    value.state_mask =
      (reportInterruptible ? VIGIL_STATE_INTERRUPTIBLE : 0)
      | (reportUninterruptible ? VIGIL_STATE_UNINTERRUPTIBLE : 0)
    value.report_exec = reportExec ? 1 : 0
    value.stack_depth = min(stackDepth, UInt32(VIGIL_MAX_STACK_DEPTH))
    value.has_cgroup_targets = hasCgroupTargets ? 1 : 0
    return value
  }
}

/// Counters kept by the probes in the kernel, summed over CPUs.
public struct ProbeCounters: Sendable, Equatable {
  /// Records written to the ring buffer.
  public var emitted: UInt64
  /// Records lost because the ring buffer was full (the consumer fell behind or was down).
  public var lostRingBuffer: UInt64
  /// Episodes whose user stack could not be read.
  public var stackFailures: UInt64
  /// Episodes over the threshold whose resume work could not be scheduled: their off-CPU
  /// record is written at the thread's next switch-out, their futex wait is lost.
  public var resumeWorkFailures: UInt64

  /// No records yet.
  public static let zero = ProbeCounters(
    emitted: 0, lostRingBuffer: 0, stackFailures: 0, resumeWorkFailures: 0)
}
