import BPFCore
import BlockingModel
import ControlAPI
import Foundation
import Logging
import Probes
import Symbolization

/// Moves records from the probes' ring buffer to the log and the API.
///
/// A dedicated thread polls the ring buffer (wake-ups are batched in the
/// kernel) and only decodes; a second thread symbolizes, formats and delivers.
/// The bounded queue between them drops and counts rather than blocking the reader.
public final class EventPipeline: Sendable {
  /// What the pipeline has counted.
  public struct Counters: Sendable, Equatable {
    public var received: UInt64 = 0
    public var emitted: UInt64 = 0
    public var decodeErrors: UInt64 = 0
  }

  private let probes: BlockingProbes
  private let registry: TargetRegistry
  private let symbolizer: Symbolizer
  private let hub: EventHub
  private let output: EventOutput
  private let logger: Logger
  private let queue: BoundedQueue<ProbeRecord>
  private let counters = LockedValue(Counters())
  private let running = LockedValue(false)
  private let activeThreads = LockedValue(0)
  private let formatter = EventFormatter()
  /// Used by the processor thread only.
  private let stacks = LockedValue(StackCache())

  public init(
    probes: BlockingProbes, registry: TargetRegistry, symbolizer: Symbolizer, hub: EventHub,
    output: EventOutput, logger: Logger, queueCapacity: Int = 65_536
  ) {
    self.probes = probes
    self.registry = registry
    self.symbolizer = symbolizer
    self.hub = hub
    self.output = output
    self.logger = logger
    queue = BoundedQueue(capacity: queueCapacity)
  }

  /// Records dropped between the reader and the processor.
  public var lostQueue: UInt64 { queue.dropped }
  public var snapshot: Counters { counters.value }

  /// Starts the reader and processor threads.
  public func start() throws(BPFError) {
    let queue = self.queue
    let counters = self.counters
    let ring = try probes.makeRingBuffer { bytes in
      do {
        let record = try RecordDecoder.decode(bytes)
        counters.withLock { $0.received += 1 }
        queue.push(record)
      } catch {
        counters.withLock { $0.decodeErrors += 1 }
      }
    }
    running.withLock { $0 = true }
    activeThreads.withLock { $0 = 2 }
    let reader = Thread { [self] in
      defer { activeThreads.withLock { $0 -= 1 } }
      while running.value {
        do { try ring.poll(timeoutMilliseconds: 100) } catch {
          logger.error("ring buffer poll failed", metadata: ["error": "\(error)"])
          Thread.sleep(forTimeInterval: 0.1)
        }
      }
      queue.close()
    }
    reader.name = "vigil-ringbuf"
    let processor = Thread { [self] in
      defer { activeThreads.withLock { $0 -= 1 } }
      while let batch = queue.popAll(timeout: 0.5) { process(batch) }
    }
    processor.name = "vigil-events"
    reader.start()
    processor.start()
  }

  /// Stops reading and drains what was queued.
  public func stop() {
    running.withLock { $0 = false }
    while activeThreads.value > 0 { Thread.sleep(forTimeInterval: 0.01) }
    output.flush()
  }

  private func process(_ batch: [ProbeRecord]) {
    let offset = EventFormatter.wallClockOffset()
    var emitted: UInt64 = 0
    stacks.withLock { stacks in
      for record in batch {
        switch record {
        case .blocking(let episode):
          let stack = stacks.rendered(pid: episode.pid, addresses: episode.stack) {
            formatter.render(
              symbolizer.symbolize(
                pid: episode.pid, addresses: episode.stack, returnAddresses: true))
          }
          // Made into an event here only when logged; the hub makes it for the API on demand.
          if output.isEnabled {
            let event = formatter.event(for: episode, stack: stack, wallClockOffset: offset)
            let line = formatter.line(event)
            output.write(line)
            hub.publish(event, line: line)
          } else {
            hub.publish(episode, stack: stack, wallClockOffset: offset)
          }
          emitted += 1
        case .exec(let pid, _):
          forget(pid, in: &stacks)
          registry.processExecuted(pid: pid)
        case .exit(let pid, _, _):
          forget(pid, in: &stacks)
          registry.processExited(pid: pid)
        }
      }
    }
    counters.withLock { $0.emitted += emitted }
    output.flush()
  }

  private func forget(_ pid: Int32, in stacks: inout StackCache) {
    symbolizer.forget(pid: pid)
    stacks.forget(pid: pid)
  }
}

