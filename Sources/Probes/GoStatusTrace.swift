import BPFCore
import CVigilABI
import Foundation
import VigilBPF

/// One goroutine status change as the trace session's uprobe saw it: runtime values, not yet
/// named (the process's binary names them).
public struct RawGoStatusChange: Sendable, Equatable {
  public var goid: Int64
  public var fromStatus: UInt32
  public var toStatus: UInt32
  public var waitReason: UInt32
  public var monotonicNanoseconds: UInt64
  public var tid: Int32
}

/// A goroutine trace session: a uprobe on `runtime.casgstatus` in one Go process, recording
/// every goroutine status change for a bounded time. Nothing stays behind: the uprobe, program
/// and ring buffer go when the session ends (nothing is pinned).
public final class GoStatusTrace {
  /// What a session recorded.
  public struct Recording: Sendable {
    public var changes: [RawGoStatusChange]
    /// Changes lost in the kernel (ring buffer full) or beyond `maxChanges`.
    public var lost: UInt64
    public var seconds: Double
  }

  private let object: BPFObject
  private let link: BPFLink
  private let ring: BPFRingBuffer
  private let lostCounter: BPFMap<UInt32, UInt64>
  private let collected: Collected

  private final class Collected: @unchecked Sendable {
    // Unchecked: touched only by the ring buffer callback, on the thread that records.
    var changes: [RawGoStatusChange] = []
    var dropped: UInt64 = 0
    let limit: Int
    init(limit: Int) { self.limit = limit }
  }

  /// Attaches to process `pid`: `fileOffset` is `runtime.casgstatus` in `/proc/PID/exe`,
  /// `goidOffset` and `waitReasonOffset` locate `g.goid` and `g.waitreason`. At most
  /// `maxChanges` are kept (the rest are counted as lost).
  public init(
    pid: Int32, fileOffset: UInt64, goidOffset: Int, waitReasonOffset: Int, maxChanges: Int
  ) throws(BPFError) {
    object = try BPFObject(bytes: EmbeddedBPF.gotrace, name: "gotrace.bpf.o")
    try object.setGlobal(section: ".rodata", name: "goid_offset", value: UInt64(goidOffset))
    try object.setGlobal(
      section: ".rodata", name: "waitreason_offset", value: UInt64(waitReasonOffset))
    try object.load()
    lostCounter = try BPFMap(fd: object.mapFD("vigil_go_lost"))
    let collected = Collected(limit: maxChanges)
    self.collected = collected
    ring = try BPFRingBuffer(map: object.mapFD("vigil_go_status")) { bytes in
      guard bytes.count >= MemoryLayout<vigil_go_status_record>.size else { return }
      let record = bytes.loadUnaligned(as: vigil_go_status_record.self)
      guard collected.changes.count < collected.limit else {
        collected.dropped += 1
        return
      }
      collected.changes.append(
        RawGoStatusChange(
          goid: record.goid, fromStatus: record.from, toStatus: record.to,
          waitReason: record.wait_reason, monotonicNanoseconds: record.time_ns,
          tid: Int32(bitPattern: record.tid)))
    }
    link = try object.program("vigil_casgstatus").attachUprobe(
      pid: pid, binaryPath: "/proc/\(pid)/exe", fileOffset: fileOffset)
  }

  /// Records for `seconds` on the calling thread, which it blocks. The uprobe stays until the
  /// session is released.
  public func record(seconds: Double) throws(BPFError) -> Recording {
    let start = ContinuousClock.now
    let end = start + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < end && collected.changes.count < collected.limit {
      try ring.poll(timeoutMilliseconds: 20)
    }
    let elapsed = ContinuousClock.now - start
    try ring.poll(timeoutMilliseconds: 0)
    let lostInKernel = try lostCounter.lookup(0) ?? 0
    return Recording(
      changes: collected.changes, lost: lostInKernel + collected.dropped,
      seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
  }
}
