import BPFCore
import BlockingModel
import ControlAPI
import Foundation
import Logging
import Probes
import Symbolization

/// Moves records from the probes' ring buffer to the log and the API.
///
/// A dedicated thread polls the ring buffer (wake-ups are batched in the kernel), reads each
/// record in place and looks its stack up (a known stack costs a hash, no allocation). When
/// events are not logged it delivers them to the hub itself, once per poll: an event stays in
/// its fixed-size ABI layout and is decoded, symbolized and encoded only if read through the
/// API. A second thread symbolizes each new stack soon after it appears (while its process
/// still has those mappings), follows execs and exits, and formats and logs events when they
/// are logged. The bounded queue between them drops and counts events rather than blocking
/// the reader, and never drops the rest.
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

  /// What the reader hands to the processor, in ring buffer order: plain bytes, cheap to move
  /// in bulk. Stacks go with a +1 reference the processor takes over (or the reader gives
  /// back when the queue drops the item).
  enum Item: BitwiseCopyable {
    /// An event to log (only when events are logged).
    case blocking(BlockInfo, stack: Unmanaged<SharedStack>)
    /// A stack seen for the first time: symbolize it now.
    case newStack(Unmanaged<SharedStack>)
    case process(ProcessRecord)

    /// Only events may be dropped when the queue is full.
    var isDroppable: Bool {
      if case .blocking = self { return true }
      return false
    }
  }

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
    let reader = Reader(symbolizer: symbolizer, logsEvents: output.isEnabled)
    let ring = try probes.makeRingBuffer { bytes in reader.read(bytes) }
    running.withLock { $0 = true }
    activeThreads.withLock { $0 = 2 }
    let readerThread = Thread { [self] in
      defer { activeThreads.withLock { $0 -= 1 } }
      while running.value {
        do { try ring.poll(timeoutMilliseconds: 100) } catch {
          logger.error("ring buffer poll failed", metadata: ["error": "\(error)"])
          Thread.sleep(forTimeInterval: 0.1)
        }
        deliver(reader)
      }
      queue.close()
    }
    readerThread.name = "vigil-ringbuf"
    let processor = Thread { [self] in
      defer { activeThreads.withLock { $0 -= 1 } }
      var items: [Item] = []
      while queue.popAll(into: &items, timeout: 0.5) { process(items) }
    }
    processor.name = "vigil-events"
    readerThread.start()
    processor.start()
  }

  /// Stops reading and drains what was queued.
  public func stop() {
    running.withLock { $0 = false }
    while activeThreads.value > 0 { Thread.sleep(forTimeInterval: 0.01) }
    output.flush()
  }

  /// Delivers what one poll read: events to the hub (one lock), items to the processor (one
  /// lock, at most one wake-up).
  private func deliver(_ reader: Reader) {
    guard reader.records > 0 || reader.decodeErrors > 0 else { return }
    let events = UInt64(reader.events.count)
    hub.publish(&reader.events)
    queue.push(taking: &reader.items, droppable: \.isDroppable) { dropped in
      switch dropped {
      case .blocking(_, let stack), .newStack(let stack): stack.release()
      case .process: break
      }
    }
    counters.withLock {
      $0.received += reader.records
      $0.emitted += events
      $0.decodeErrors += reader.decodeErrors
    }
    reader.records = 0
    reader.decodeErrors = 0
    reader.wallClockOffset = EventFormatter.wallClockOffset()
  }

  private func process(_ items: [Item]) {
    let offset = EventFormatter.wallClockOffset()
    var logged = EventHub.Batch()
    for item in items {
      switch item {
      case .blocking(let info, let retained):
        let stack = retained.takeRetainedValue()
        let event = formatter.event(
          for: info.episode(stack: stack.addresses), stack: stack.rendering,
          wallClockOffset: offset)
        let line = formatter.line(event)
        output.write(line)
        logged.append(info, stack: stack, wallClockOffset: offset, line: line)
      case .newStack(let retained):
        _ = retained.takeRetainedValue().rendering
      case .process(let process):
        symbolizer.forget(pid: process.pid)
        if process.isExec {
          registry.processExecuted(pid: process.pid)
        } else {
          registry.processExited(pid: process.pid)
        }
      }
    }
    if !logged.isEmpty {
      counters.withLock { $0.emitted += UInt64(logged.count) }
      hub.publish(&logged)
      output.flush()
    }
  }
}

/// The ring buffer reader's side: the stacks it has seen, and what one poll read. Touched by
/// the reader thread only.
private final class Reader: @unchecked Sendable {
  // One thread, no overlapping access: no dynamic exclusivity checks on the hot path.
  @exclusivity(unchecked) var events = EventHub.Batch()
  @exclusivity(unchecked) var items: [EventPipeline.Item] = []
  @exclusivity(unchecked) var records: UInt64 = 0
  @exclusivity(unchecked) var decodeErrors: UInt64 = 0
  /// CLOCK_REALTIME - CLOCK_MONOTONIC for the events of the next poll.
  @exclusivity(unchecked) var wallClockOffset = EventFormatter.wallClockOffset()
  @exclusivity(unchecked) private var stacks = StackCache()
  private let symbolizer: Symbolizer
  private let logsEvents: Bool

  init(symbolizer: Symbolizer, logsEvents: Bool) {
    self.symbolizer = symbolizer
    self.logsEvents = logsEvents
  }

  func read(_ bytes: UnsafeRawBufferPointer) {
    do {
      let record = try RecordView(bytes)
      records += 1
      switch record {
      case .blocking(let block):
        let pid = block.pid
        let (stack, isNew) = stacks.stack(pid: pid, addresses: block.stack) { pid, addresses in
          SharedStack(pid: pid, addresses: addresses, symbolizer: symbolizer)
        }
        if isNew { items.append(.newStack(Unmanaged.passRetained(stack))) }
        if logsEvents {
          items.append(.blocking(block.info, stack: Unmanaged.passRetained(stack)))
        } else {
          events.append(block.info, stack: stack, wallClockOffset: wallClockOffset)
        }
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
