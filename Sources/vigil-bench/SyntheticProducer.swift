import BPFCore
import CVigilABI
import Foundation
import VigilBPFTestObjects

/// Writes copies of one off-CPU record into vigild's pinned ring buffer at a set rate, waking
/// vigild as its probes do (`bpf/tests/ring_producer.bpf.c`), to measure what vigild costs per
/// event at rates real context switches cannot reach on this machine.
///
/// The record names this process and carries a real stack of it, so vigild symbolizes it
/// as it would a target's.
final class SyntheticProducer {
  /// Records written per program run at most.
  private static let chunk: UInt32 = 4096
  private struct Arguments {
    var first: UInt64
    var count: UInt32
    var pad: UInt32 = 0
  }

  private let object: BPFObject
  private let program: BPFProgram
  private let lostMap: BPFMap<UInt32, UInt64>

  /// Loads the producer onto the ring buffer of vigild's probes pinned under `pinPath`.
  init(pinPath: String, wakeupBytes: UInt64) throws {
    object = try BPFObject(bytes: TestBPFObjects.ringProducer, name: "ring_producer")
    try object.setGlobal(section: ".data", name: "template_record", value: Self.template())
    try object.setGlobal(section: ".rodata", name: "wakeup_bytes", value: wakeupBytes)
    let ring = "\(pinPath)/blocking-v\(VIGIL_ABI_VERSION)/vigil_events"
    try object.reuseMap("vigil_events", fd: BPFPin.open(ring))
    try object.load()
    program = try object.program("vigil_produce")
    lostMap = try BPFMap(fd: object.mapFD(".bss"))
  }

  /// Records the ring buffer had no room for, since load.
  var lost: UInt64 { (try? lostMap.lookup(0)) ?? 0 }

  /// Writes `rate` records per second for `seconds`, in runs every millisecond; returns how
  /// many it wrote (lost ones included).
  func run(rate: Double, seconds: Double) throws -> UInt64 {
    let start = Date()
    var produced: UInt64 = 0
    while true {
      let elapsed = Date().timeIntervalSince(start)
      if elapsed >= seconds { break }
      let target = UInt64(rate * elapsed)
      var due = target > produced ? target - produced : 0
      while due > 0 {
        let count = UInt32(min(due, UInt64(Self.chunk)))
        _ = try program.run(context: Arguments(first: produced, count: count))
        produced += UInt64(count)
        due -= UInt64(count)
      }
      usleep(1000)
    }
    return produced
  }

  /// An off-CPU episode of this thread, 1 µs long, with the main thread's current stack.
  private static func template() -> vigil_block_record {
    var record = vigil_block_record()
    record.info.kind = UInt32(VIGIL_RECORD_OFFCPU.rawValue)
    record.info.pid = UInt32(getpid())
    record.info.tid = UInt32(getpid())  // the main thread
    record.info.start_ns = 1
    record.info.duration_ns = 1000
    record.info.state = 1
    record.info.goroutine = -1
    let frames = Thread.callStackReturnAddresses.prefix(Int(VIGIL_MAX_STACK_DEPTH))
    record.info.stack_bytes = Int32(frames.count * 8)
    withUnsafeMutableBytes(of: &record.stack) { stack in
      for (index, frame) in frames.enumerated() {
        stack.storeBytes(of: frame.uint64Value, toByteOffset: index * 8, as: UInt64.self)
      }
    }
    withUnsafeMutableBytes(of: &record.info.comm) { comm in
      for (index, byte) in "vigil-bench".utf8.enumerated() { comm[index] = byte }
    }
    return record
  }
}
