internal import CLibBPF
import Glibc

/// A consumer of a `BPF_MAP_TYPE_RINGBUF` map.
///
/// `poll` blocks: call it from a dedicated thread, never from the Swift
/// concurrency pool. Records are handed to `handler` on the polling thread,
/// valid only during the call.
public final class BPFRingBuffer: @unchecked Sendable {
  // Unchecked: `poll`/`consume` are called from one thread (the consumer's);
  // the pointer is only freed in deinit.
  private let pointer: OpaquePointer
  private let handler: Unmanaged<Handler>
  private let map: OwnedFD

  private final class Handler {
    let body: (UnsafeRawBufferPointer) -> Void
    init(_ body: @escaping (UnsafeRawBufferPointer) -> Void) { self.body = body }
  }

  /// Consumes the ring buffer map behind `map`.
  public init(map: OwnedFD, handler body: @escaping (UnsafeRawBufferPointer) -> Void)
    throws(BPFError)
  {
    let handler = Unmanaged.passRetained(Handler(body))
    let callback: ring_buffer_sample_fn = { context, data, size in
      // The ring buffer holds the handler for its whole life: no retain per record.
      Unmanaged<Handler>.fromOpaque(context!)._withUnsafeGuaranteedRef {
        $0.body(UnsafeRawBufferPointer(start: data, count: size))
      }
      return 0
    }
    guard let pointer = ring_buffer__new(map.rawValue, callback, handler.toOpaque(), nil) else {
      handler.release()
      throw BPFError.libbpf("ring_buffer__new", "opening ring buffer")
    }
    self.pointer = pointer
    self.handler = handler
    self.map = map
  }

  deinit {
    ring_buffer__free(pointer)
    handler.release()
  }

  /// Waits up to `timeoutMilliseconds` for a wake-up, then hands over what is
  /// pending (also records that arrived without a wake-up). Returns the count.
  @discardableResult
  public func poll(timeoutMilliseconds: Int32) throws(BPFError) -> Int {
    let polled = ring_buffer__poll(pointer, timeoutMilliseconds)
    if polled < 0 && polled != -EINTR {
      throw BPFError.libbpf("ring_buffer__poll", "polling ring buffer", result: polled)
    }
    let consumed = ring_buffer__consume(pointer)
    if consumed < 0 {
      throw BPFError.libbpf("ring_buffer__consume", "reading ring buffer", result: consumed)
    }
    return Int(max(polled, 0) + consumed)
  }
}
