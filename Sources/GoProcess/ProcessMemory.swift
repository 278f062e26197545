import Glibc

/// Reads another process's memory with `process_vm_readv`, never writing it or stopping it.
///
/// Reads are batched (up to `IOV_MAX` ranges per system call) and nearby ranges are merged.
/// Needs root or `CAP_SYS_PTRACE` (or a ptrace-permitted relation to the target). A vanished
/// process gives `GoProcessError.processExited`.
public struct ProcessMemory: Sendable {
  /// The largest single range a caller may ask for.
  public static let maxRange = 64 << 20
  /// Ranges at most this far apart are read as one.
  static let mergeGap: UInt64 = 256
  /// A merged range grows no larger than this.
  static let maxMerged: UInt64 = 1 << 20
  static let maxIovecs = 1024

  public let pid: Int32

  public init(pid: Int32) { self.pid = pid }

  /// glibc's `process_vm_readv`, which its headers declare only under `_GNU_SOURCE` (so Swift
  /// does not import it); looked up once by name. glibc has had it since 2.15.
  private static let processVMReadv:
    (
      @convention(c) (
        pid_t, UnsafePointer<iovec>?, UInt, UnsafePointer<iovec>?, UInt, UInt
      ) -> Int
    )? = {
      guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "process_vm_readv") else {
        return nil
      }
      return unsafeBitCast(
        symbol,
        to: (@convention(c) (
          pid_t, UnsafePointer<iovec>?, UInt, UnsafePointer<iovec>?, UInt, UInt
        ) -> Int).self)
    }()

  /// One range to read.
  public struct Range: Sendable, Hashable {
    public var address: UInt64
    public var count: Int

    public init(address: UInt64, count: Int) { (self.address, self.count) = (address, count) }
  }

  /// The bytes of many ranges read together: `bytes(i)` is the `i`th range's contents, or nil
  /// if that range could not be read (unmapped: `EFAULT`).
  public struct Batch: Sendable {
    var buffer: [UInt8]
    var slots: [Swift.Range<Int>?]

    public var count: Int { slots.count }
    public func bytes(_ index: Int) -> ArraySlice<UInt8>? { slots[index].map { buffer[$0] } }
    public func isReadable(_ index: Int) -> Bool { slots[index] != nil }

    /// Calls `body` with the bytes of every range at once and each range's place in them (nil
    /// when unread), for decoding many records without a bounds check per field.
    public func withRecords<R>(
      _ body: (UnsafeRawBufferPointer, [Swift.Range<Int>?]) throws -> R
    ) rethrows -> R {
      try buffer.withUnsafeBytes { try body($0, slots) }
    }

    /// The little-endian integer at `offset` in range `index`; nil if unread or out of range.
    public func load<T: FixedWidthInteger>(_ index: Int, _ offset: Int, as: T.Type = T.self) -> T? {
      guard let slot = slots[index], offset >= 0, offset + MemoryLayout<T>.size <= slot.count
      else { return nil }
      return buffer.withUnsafeBytes {
        T(littleEndian: $0.loadUnaligned(fromByteOffset: slot.lowerBound + offset, as: T.self))
      }
    }
  }

  /// Reads one range; throws `unreadable` naming `what` when it cannot be read.
  public func read(address: UInt64, count: Int, what: String) throws(GoProcessError) -> [UInt8] {
    let batch = try read([Range(address: address, count: count)], what: what)
    guard let bytes = batch.bytes(0) else {
      throw .unreadable(pid: pid, address: address, count: count, what: what, errno: EFAULT)
    }
    return Array(bytes)
  }

  /// Reads `ranges` with as few system calls as merging and batching allow. A range that
  /// cannot be read is nil in the result rather than an error, so one torn pointer does not
  /// lose a whole snapshot.
  public func read(_ ranges: [Range], what: String) throws(GoProcessError) -> Batch {
    for range in ranges {
      guard range.count >= 0, range.count <= Self.maxRange else {
        throw .tooLarge(pid: pid, what: what, count: range.count, limit: Self.maxRange)
      }
    }
    // Merge ranges that overlap or are close, in address order (usually given in that order
    // already: then there is nothing to sort). A span's members are order[first..<last].
    var order = ranges.indices.filter { ranges[$0].count > 0 }
    var sorted = true
    for position in order.indices.dropFirst()
    where ranges[order[position - 1]].address > ranges[order[position]].address {
      sorted = false
      break
    }
    if !sorted { order.sort { ranges[$0].address < ranges[$1].address } }
    var spans: [(address: UInt64, end: UInt64, first: Int, last: Int)] = []
    for (position, index) in order.enumerated() {
      let range = ranges[index]
      let (start, overflow) = range.address.addingReportingOverflow(UInt64(range.count))
      let end = overflow ? UInt64.max : start
      if let last = spans.last, range.address <= last.end &+ Self.mergeGap,
        max(last.end, end) - last.address <= Self.maxMerged
      {
        spans[spans.count - 1].end = max(last.end, end)
        spans[spans.count - 1].last = position + 1
      } else {
        spans.append((range.address, end, position, position + 1))
      }
    }
    let spanRanges = spans.map { Range(address: $0.address, count: Int($0.end - $0.address)) }
    var (buffer, spanSlots) = try readUnmerged(spanRanges, what: what)
    // Members point into their span's bytes; a merged span that failed may hold readable
    // members, which are read again one by one.
    var slots = [Swift.Range<Int>?](repeating: nil, count: ranges.count)
    var retry: [Int] = []
    for (index, span) in spans.enumerated() {
      let members = order[span.first..<span.last]
      guard let slot = spanSlots[index] else {
        if members.count > 1 { retry.append(contentsOf: members) }
        continue
      }
      for member in members {
        let offset = slot.lowerBound + Int(ranges[member].address - span.address)
        slots[member] = offset..<offset + ranges[member].count
      }
    }
    if !retry.isEmpty {
      let (again, againSlots) = try readUnmerged(retry.map { ranges[$0] }, what: what)
      let base = buffer.count
      buffer.append(contentsOf: again)
      for (position, member) in retry.enumerated() {
        slots[member] = againSlots[position].map { base + $0.lowerBound..<base + $0.upperBound }
      }
    }
    for index in ranges.indices where ranges[index].count == 0 { slots[index] = 0..<0 }
    return Batch(buffer: buffer, slots: slots)
  }

  /// Reads each range into one buffer, `maxIovecs` ranges per call; a range the kernel could
  /// not read (the call stops at it) is nil and the next call starts after it.
  private func readUnmerged(_ ranges: [Range], what: String) throws(GoProcessError)
    -> ([UInt8], [Swift.Range<Int>?])
  {
    guard let processVMReadv = Self.processVMReadv else {
      throw .unreadable(
        pid: pid, address: 0, count: 0, what: "\(what) (no process_vm_readv in libc)", errno: ENOSYS
      )
    }
    var offsets: [Int] = []
    var size = 0
    for range in ranges {
      offsets.append(size)
      size += range.count
    }
    // Uninitialised: the kernel fills it, and unread ranges are never exposed.
    var buffer = [UInt8](unsafeUninitializedCapacity: size) { $1 = size }
    var slots = [Swift.Range<Int>?](repeating: nil, count: ranges.count)
    var next = 0
    var failure: GoProcessError?
    buffer.withUnsafeMutableBytes { raw in
      while next < ranges.count, failure == nil {
        let batch = next..<min(ranges.count, next + Self.maxIovecs)
        var local = batch.map {
          iovec(iov_base: raw.baseAddress! + offsets[$0], iov_len: ranges[$0].count)
        }
        var remote = batch.map {
          iovec(
            iov_base: UnsafeMutableRawPointer(bitPattern: UInt(ranges[$0].address)),
            iov_len: ranges[$0].count)
        }
        let done = processVMReadv(
          pid, &local, UInt(local.count), &remote, UInt(remote.count), 0)
        if done < 0 {
          let code = errno
          switch code {
          case ESRCH: failure = .processExited(pid: pid)
          case EPERM, EACCES: failure = .permissionDenied(pid: pid, operation: "process_vm_readv")
          case EFAULT: next = batch.lowerBound + 1  // the first range is unreadable
          case EINTR: continue
          default:
            let first = ranges[batch.lowerBound]
            failure = .unreadable(
              pid: pid, address: first.address, count: first.count, what: what, errno: code)
          }
          continue
        }
        // Whole ranges were read up to `done` bytes; the range after them failed.
        var remaining = done
        var index = batch.lowerBound
        while index < batch.upperBound, remaining >= ranges[index].count {
          remaining -= ranges[index].count
          slots[index] = offsets[index]..<offsets[index] + ranges[index].count
          index += 1
        }
        next = index == batch.upperBound ? index : index + 1
      }
    }
    if let failure { throw failure }
    return (buffer, slots)
  }
}
