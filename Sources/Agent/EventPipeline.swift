import BPFCore
import BlockingModel
import ControlAPI
import Foundation
import Logging
import Probes
import Symbolization

/// Moves records from the probes' ring buffer to the log and the API.
///
/// A dedicated thread polls the ring buffer (wake-ups are batched in the kernel), reads
/// each record in place and looks its stack up (a known stack costs a hash, no allocation);
/// a second thread symbolizes new stacks and delivers. The bounded queue between them drops
/// and counts rather than blocking the reader. An event stays in its fixed-size ABI layout
/// and is decoded and encoded only when it is logged or read through the API.
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
  private let queue: BoundedQueue<Item>
  private let counters = LockedValue(Counters())
  private let running = LockedValue(false)
  private let activeThreads = LockedValue(0)
  private let formatter = EventFormatter()

  /// What the reader hands to the processor, in ring buffer order. Plain bytes, cheap to move
  /// in bulk, and no reference counted per event (two threads counting references on the
  /// same stack would bounce its cache line between CPUs on every event).
  enum Item: BitwiseCopyable {
    case blocking(BlockInfo, stackID: UInt32)
    /// A stack seen for the first time (see `StackCache`); the processor takes over the +1
    /// reference. `restarted`: the ids given out before are void.
    case newStack(id: UInt32, restarted: Bool, Unmanaged<NewStack>)
    case process(ProcessRecord)

    /// Only blocking items may be dropped when the queue is full: the others keep the
    /// processor's view of stacks and processes right.
    var isDroppable: Bool {
      if case .blocking = self { return true }
      return false
    }
  }

  /// The raw stack of a `newStack` item.
  final class NewStack: Sendable {
    let pid: Int32
    let addresses: [UInt64]

    init(pid: Int32, addresses: [UInt64]) {
      self.pid = pid
      self.addresses = addresses
    }
  }

  /// The processor's stacks, by id; touched by the processor thread only.
  private let processorStacks = LockedValue<[RenderedStack]>([])

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
    let batch = ReaderBatch()
    let ring = try probes.makeRingBuffer { bytes in batch.append(bytes) }
    running.withLock { $0 = true }
    activeThreads.withLock { $0 = 2 }
    let reader = Thread { [self] in
      defer { activeThreads.withLock { $0 -= 1 } }
      while running.value {
        do { try ring.poll(timeoutMilliseconds: 100) } catch {
          logger.error("ring buffer poll failed", metadata: ["error": "\(error)"])
          Thread.sleep(forTimeInterval: 0.1)
        }
        handOver(batch)
      }
      queue.close()
    }
    reader.name = "vigil-ringbuf"
    let processor = Thread { [self] in
      defer { activeThreads.withLock { $0 -= 1 } }
      var items: [Item] = []
      while queue.popAll(into: &items, timeout: 0.5) { process(items) }
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

  /// Moves what one poll read to the processor: one lock and at most one wake-up per poll.
  private func handOver(_ batch: ReaderBatch) {
    guard batch.records > 0 || batch.decodeErrors > 0 else { return }
    queue.push(taking: &batch.items, droppable: \.isDroppable)
    counters.withLock {
      $0.received += batch.records
      $0.decodeErrors += batch.decodeErrors
    }
    batch.records = 0
    batch.decodeErrors = 0
  }

  private func process(_ items: [Item]) {
    let offset = EventFormatter.wallClockOffset()
    var entries: [EventHub.Entry] = []
    entries.reserveCapacity(items.count)
    processorStacks.withLock { stacks in
      for item in items {
        switch item {
        case .blocking(let info, let id):
          let stack = stacks[Int(id)]
          // Made into an event here only when logged; the hub makes it for the API on demand.
          if output.isEnabled {
            let event = formatter.event(
              for: info.episode(stack: stack.addresses), stack: stack.rendering,
              wallClockOffset: offset)
            let line = formatter.line(event)
            output.write(line)
            entries.append(EventHub.Entry(event, line: line))
          } else {
            entries.append(EventHub.Entry(info, stack: stack, wallClockOffset: offset))
          }
        case .newStack(let id, let restarted, let retained):
          let new = retained.takeRetainedValue()
          if restarted { stacks.removeAll(keepingCapacity: true) }
          precondition(Int(id) == stacks.count, "stack id \(id) out of order")
          let frames = symbolizer.symbolize(
            pid: new.pid, addresses: new.addresses, returnAddresses: true)
          stacks.append(
            RenderedStack(
              pid: new.pid, addresses: new.addresses, rendering: formatter.render(frames)))
        case .process(let process):
          symbolizer.forget(pid: process.pid)
          if process.isExec {
            registry.processExecuted(pid: process.pid)
          } else {
            registry.processExited(pid: process.pid)
          }
        }
      }
    }
    hub.publish(entries)
    counters.withLock { $0.emitted += UInt64(entries.count) }
    output.flush()
  }
}

/// What the ring buffer reader read during one poll, and the stacks it has seen; touched by
/// the reader thread only.
private final class ReaderBatch: @unchecked Sendable {
  var items: [EventPipeline.Item] = []
  var records: UInt64 = 0
  var decodeErrors: UInt64 = 0
  private var stacks = StackCache()

  func append(_ bytes: UnsafeRawBufferPointer) {
    do {
      let record = try RecordView(bytes)
      records += 1
      switch record {
      case .blocking(let info, let addresses):
        let lookup = stacks.stack(pid: info.pid, addresses: addresses)
        if case .new(let id, let restarted) = lookup {
          let new = EventPipeline.NewStack(pid: info.pid, addresses: Array(addresses))
          items.append(.newStack(id: id, restarted: restarted, Unmanaged.passRetained(new)))
        }
        items.append(.blocking(info, stackID: lookup.id))
      case .process(let process):
        // Later records of this pid are of a new image (or none): new stacks. Those queued
        // before are symbolized before the processor forgets the old mappings.
        stacks.forget(pid: process.pid)
        items.append(.process(process))
      }
    } catch {
      decodeErrors += 1
    }
  }
}
