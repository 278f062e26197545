/// vigild's event counters at one moment, read from `/metrics`.
struct DaemonCounters: Codable, Sendable, Equatable {
  /// Records the probes wrote to the ring buffer.
  var records: UInt64 = 0
  /// Records vigild read from the ring buffer.
  var received: UInt64 = 0
  /// Events fully processed (symbolized, formatted, delivered).
  var processed: UInt64 = 0
  /// Records the kernel dropped: ring buffer full.
  var lostRingBuffer: UInt64 = 0
  /// Records dropped between vigild's reader and processor threads.
  var lostQueue: UInt64 = 0
  /// Episodes whose user stack could not be read.
  var stackFailures: UInt64 = 0

  init() {}

  /// Reads the counters from a Prometheus exposition; absent samples count 0.
  init(metrics text: String) {
    var values: [Substring: UInt64] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let fields = line.split(separator: " ")
      if fields.count == 2, let value = Double(fields[1]) {
        values[fields[0]] = UInt64(max(value, 0))
      }
    }
    records = values["vigil_bpf_records_total"] ?? 0
    received = values["vigil_events_received_total"] ?? 0
    processed = values["vigil_events_emitted_total"] ?? 0
    lostRingBuffer = values["vigil_events_lost_ringbuf_total"] ?? 0
    lostQueue = values["vigil_events_lost_queue_total"] ?? 0
    stackFailures = values["vigil_stack_failures_total"] ?? 0
  }

  /// Records lost anywhere between the probes and the processor.
  var lost: UInt64 { lostRingBuffer + lostQueue }

  /// The growth of each counter since `earlier`.
  static func - (later: DaemonCounters, earlier: DaemonCounters) -> DaemonCounters {
    func delta(_ path: KeyPath<DaemonCounters, UInt64>) -> UInt64 {
      later[keyPath: path] >= earlier[keyPath: path]
        ? later[keyPath: path] - earlier[keyPath: path] : 0
    }
    var result = DaemonCounters()
    result.records = delta(\.records)
    result.received = delta(\.received)
    result.processed = delta(\.processed)
    result.lostRingBuffer = delta(\.lostRingBuffer)
    result.lostQueue = delta(\.lostQueue)
    result.stackFailures = delta(\.stackFailures)
    return result
  }
}
