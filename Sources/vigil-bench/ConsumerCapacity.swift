import BPFCore
import CVigilABI
import Foundation

/// vigild consuming synthetic records at set rates (see `SyntheticProducer`): its CPU per
/// event and its losses, with every record made into an event as at zero thresholds.
struct ConsumerCapacity {
  /// One rate, held for one window.
  struct Sample: Codable, Sendable {
    var offeredPerSecond: Double
    /// Records the producer wrote (including those the ring buffer had no room for).
    var produced: UInt64
    /// Records vigild read, and made into events.
    var received: UInt64
    var processed: UInt64
    var lostRingBuffer: UInt64
    var lostQueue: UInt64
    /// From the first record to vigild having read the last one.
    var seconds: Double
    var cpuSeconds: Double

    var receivedPerSecond: Double { Double(received) / seconds }
    var cpuPercent: Double { 100 * cpuSeconds / seconds }
    var lost: UInt64 { lostRingBuffer + lostQueue }
    var nanosecondsPerEvent: Double { received > 0 ? 1e9 * cpuSeconds / Double(received) : 0 }
  }

  let binaries: Binaries
  let workDirectory: String
  let pinPath: String

  /// Holds each of `rates` for `seconds`, one vigild for all.
  func run(rates: [Double], seconds: Double) throws -> [Sample] {
    let daemon = try VigilDaemon(
      binary: binaries.vigild, workDirectory: workDirectory, pinPath: pinPath, threshold: "0")
    defer {
      daemon.stop()
      VigilDaemon.uninstall(binary: binaries.vigild, pinPath: pinPath)
    }
    let producer = try SyntheticProducer(pinPath: pinPath, wakeupBytes: try wakeupBytes())
    // Not measured: vigild meets the record's stack (and reads this benchmark's symbols) once.
    _ = try window(rate: 10_000, seconds: 0.2, daemon: daemon, producer: producer)
    var samples: [Sample] = []
    for rate in rates {
      let sample = try window(rate: rate, seconds: seconds, daemon: daemon, producer: producer)
      Progress.say(
        "consumer at \(Report.grouped(rate))/s: read \(Report.grouped(sample.receivedPerSecond))/s, "
          + String(
            format: "CPU %.1f%%, %.0f ns per event, lost %llu", sample.cpuPercent,
            sample.nanosecondsPerEvent, sample.lost))
      samples.append(sample)
    }
    return samples
  }

  private func window(
    rate: Double, seconds: Double, daemon: VigilDaemon, producer: SyntheticProducer
  ) throws -> Sample {
    let before = try daemon.counters()
    let lostBefore = producer.lost
    let cpuBefore = daemon.cpuSeconds
    let started = Date()
    let produced = try producer.run(rate: rate, seconds: seconds)
    let lostRingBuffer = producer.lost - lostBefore
    // vigild reads at least every 100 ms: wait until it has read and processed everything.
    var after = try daemon.counters()
    let deadline = Date().addingTimeInterval(5)
    while after.processed - before.processed + after.lostQueue - before.lostQueue
      < produced - lostRingBuffer, Date() < deadline
    {
      Thread.sleep(forTimeInterval: 0.01)
      after = try daemon.counters()
    }
    let elapsed = Date().timeIntervalSince(started)
    let delta = after - before
    return Sample(
      offeredPerSecond: rate, produced: produced, received: delta.received,
      processed: delta.processed, lostRingBuffer: lostRingBuffer, lostQueue: delta.lostQueue,
      seconds: elapsed, cpuSeconds: daemon.cpuSeconds - cpuBefore)
  }

  /// The pending bytes at which vigild's probes wake it, from its pinned settings.
  private func wakeupBytes() throws -> UInt64 {
    let settings = try BPFMap<UInt32, vigil_settings>(
      fd: BPFPin.open("\(pinPath)/blocking-v\(VIGIL_ABI_VERSION)/vigil_settings"))
    guard let value = try settings.lookup(0) else {
      throw BenchError("vigild's vigil_settings map is empty")
    }
    return value.wakeup_bytes
  }
}
