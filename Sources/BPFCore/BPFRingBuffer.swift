internal import CLibBPF
import Glibc

/// A consumer of a `BPF_MAP_TYPE_RINGBUF` map, reading the kernel's shared pages directly.
///
/// libbpf 1.1's consumer publishes its position after every record, so the producing CPU and
/// the consuming CPU pass the position's cache line back and forth once per record; this one
/// publishes it once per `releaseEvery` bytes and at the end of each pass, and calls the
/// handler without a C trampoline. It waits for the producer's wake-ups (edge-triggered
/// epoll), not for data: a producer that wakes it only once enough is pending (see
/// `vigil_submit`) gets batches that big, however steadily records arrive.
///
/// `poll` blocks: call it from a dedicated thread, never from the Swift concurrency pool.
/// Records are handed to `handler` on the polling thread, valid only during the call.
public final class BPFRingBuffer: @unchecked Sendable {
  // Unchecked: `poll`/`consume` are called from one thread (the consumer's); the mappings
  // are only unmapped in deinit.
  private static let headerBytes = 8
  private static let busyBit: UInt32 = 1 << 31
  private static let discardBit: UInt32 = 1 << 30
  /// Consumed bytes after which the position is published within a pass (space for the producer).
  private static let releaseEvery = 64 << 10
  /// How far ahead of the record being handled to prefetch, and how much.
  private static let prefetchDistance = 1024
  private static let prefetchBytes = 384

  private let map: OwnedFD
  private let epoll: OwnedFD
  private let handler: (UnsafeRawBufferPointer) -> Void
  private let pageSize: Int
  private let dataBytes: Int
  /// The consumer page (read-write): the consumer position.
  private let consumerPage: UnsafeMutableRawPointer
  /// The producer page, then the data pages mapped twice (read-only), so that a record that
  /// wraps around the end is contiguous.
  private let producerPages: UnsafeMutableRawPointer

  /// Consumes the ring buffer map behind `map`.
  public init(map: OwnedFD, handler: @escaping (UnsafeRawBufferPointer) -> Void)
    throws(BPFError)
  {
    let info = try BPFMapInfo(fd: map)
    guard info.type == BPF_MAP_TYPE_RINGBUF.rawValue else {
      throw BPFError(
        function: "BPFRingBuffer",
        context: "map \(info.name) is not a ring buffer (type \(info.type))",
        errno: EINVAL)
    }
    pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    dataBytes = Int(info.maxEntries)
    let consumer = mmap(nil, pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, map.rawValue, 0)
    guard let consumer, consumer != MAP_FAILED else {
      throw BPFError(
        function: "mmap", context: "consumer page of ring buffer \(info.name)", errno: errno)
    }
    let producer = mmap(
      nil, pageSize + 2 * dataBytes, PROT_READ, MAP_SHARED, map.rawValue, off_t(pageSize))
    guard let producer, producer != MAP_FAILED else {
      let error = errno
      munmap(consumer, pageSize)
      throw BPFError(
        function: "mmap", context: "data pages of ring buffer \(info.name)", errno: error)
    }
    let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
    guard epoll >= 0 else {
      let error = errno
      munmap(consumer, pageSize)
      munmap(producer, pageSize + 2 * dataBytes)
      throw BPFError(function: "epoll_create1", context: "ring buffer \(info.name)", errno: error)
    }
    self.epoll = OwnedFD(taking: epoll)
    var event = epoll_event()
    event.events = EPOLLIN.rawValue | EPOLLET.rawValue
    guard epoll_ctl(epoll, EPOLL_CTL_ADD, map.rawValue, &event) == 0 else {
      let error = errno
      munmap(consumer, pageSize)
      munmap(producer, pageSize + 2 * dataBytes)
      throw BPFError(function: "epoll_ctl", context: "ring buffer \(info.name)", errno: error)
    }
    self.map = map
    self.handler = handler
    consumerPage = consumer
    producerPages = producer
  }

  deinit {
    munmap(consumerPage, pageSize)
    munmap(producerPages, pageSize + 2 * dataBytes)
  }

  /// Waits up to `timeoutMilliseconds` for a wake-up, then hands over what is pending (also
  /// records that arrived without a wake-up). Returns the count.
  @discardableResult
  public func poll(timeoutMilliseconds: Int32) throws(BPFError) -> Int {
    var event = epoll_event()
    if epoll_wait(epoll.rawValue, &event, 1, timeoutMilliseconds) < 0 && errno != EINTR {
      throw BPFError(function: "epoll_wait", context: "waiting on ring buffer", errno: errno)
    }
    return consume()
  }

  /// Hands over every complete record pending, in order. Returns the count.
  @discardableResult
  public func consume() -> Int {
    let consumerPosition = consumerPage.assumingMemoryBound(to: UInt.self)
    let producerPosition = UnsafePointer(producerPages.assumingMemoryBound(to: UInt.self))
    let data = producerPages + pageSize
    let mask = UInt(dataBytes - 1)
    var position = consumerPosition.pointee
    var released = position
    var count = 0
    var end = vigil_load_acquire_ulong(producerPosition)
    while position < end {
      while position < end {
        let header = data + Int(position & mask)
        let length = vigil_load_acquire_uint(header.assumingMemoryBound(to: UInt32.self))
        if length & Self.busyBit != 0 { break }  // still being written
        let bytes = Int(length & ~(Self.busyBit | Self.discardBit))
        // The producer wrote the records on another CPU: ask for the lines a few records
        // ahead while this one is handled.
        let ahead = position &+ UInt(Self.prefetchDistance)
        for line in stride(from: 0, to: Self.prefetchBytes, by: 64) {
          vigil_prefetch(data + Int((ahead &+ UInt(line)) & mask))
        }
        if length & Self.discardBit == 0 {
          handler(UnsafeRawBufferPointer(start: header + Self.headerBytes, count: bytes))
          count += 1
        }
        position += UInt((Self.headerBytes + bytes + 7) & ~7)
        if position - released >= Self.releaseEvery {
          vigil_store_release_ulong(consumerPosition, position)
          released = position
        }
      }
      vigil_store_release_ulong(consumerPosition, position)
      released = position
      // Stop at a record still being written; otherwise take what arrived meanwhile.
      let header = data + Int(position & mask)
      if position < end,
        vigil_load_acquire_uint(header.assumingMemoryBound(to: UInt32.self)) & Self.busyBit != 0
      {
        break
      }
      end = vigil_load_acquire_ulong(producerPosition)
    }
    return count
  }
}
