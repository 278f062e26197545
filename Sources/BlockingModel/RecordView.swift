import CVigilABI

/// A probe record read in place, in the layout the probes wrote it: checked, not decoded.
/// Valid only as long as the bytes it was made from (during a ring buffer callback).
///
/// The hot path keeps a blocking record's `BlockInfo` (fixed size, no allocation, no reference
/// counting) and looks its stack up without copying it; `decoded` makes the `ProbeRecord`.
public enum RecordView {
  case blocking(BlockView)
  /// An exec or an exit.
  case process(ProcessRecord)

  /// Reads the record at the start of `bytes`. Throws for a short or unknown record.
  public init(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) {
    guard bytes.count >= MemoryLayout<UInt32>.size else {
      throw RecordDecodingError(description: "record of \(bytes.count) bytes has no kind")
    }
    let kind = bytes.loadUnaligned(as: UInt32.self)
    switch kind {
    case UInt32(VIGIL_RECORD_OFFCPU.rawValue), UInt32(VIGIL_RECORD_FUTEX.rawValue):
      guard bytes.count >= MemoryLayout<vigil_block_record>.size else {
        throw Self.tooShort(vigil_block_record.self, bytes.count)
      }
      self = .blocking(BlockView(bytes: bytes))
    case UInt32(VIGIL_RECORD_EXEC.rawValue), UInt32(VIGIL_RECORD_EXIT.rawValue):
      guard bytes.count >= MemoryLayout<vigil_process_record>.size else {
        throw Self.tooShort(vigil_process_record.self, bytes.count)
      }
      self = .process(ProcessRecord(raw: bytes.loadUnaligned(as: vigil_process_record.self)))
    default:
      throw RecordDecodingError(description: "unknown record kind \(kind)")
    }
  }

  /// The record decoded.
  public var decoded: ProbeRecord {
    switch self {
    case .blocking(let block): .blocking(block.info.episode(stack: Array(block.stack)))
    case .process(let record) where record.isExec: .exec(pid: record.pid, comm: record.comm)
    case .process(let record): .exit(pid: record.pid, targetID: record.targetID, comm: record.comm)
    }
  }

  private static func tooShort<T>(_ type: T.Type, _ count: Int) -> RecordDecodingError {
    RecordDecodingError(
      description: "\(T.self) needs \(MemoryLayout<T>.size) bytes, record has \(count)")
  }

}

/// A blocking record in place (at least a whole `vigil_block_record`).
public struct BlockView {
  let bytes: UnsafeRawBufferPointer

  public var pid: Int32 {
    Int32(bitPattern: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
  }

  /// The record without its stack, copied out.
  public var info: BlockInfo { BlockInfo(raw: bytes.loadUnaligned(as: vigil_block_info.self)) }

  /// The stack's return addresses, innermost first, in place.
  public var stack: StackAddresses {
    let stackBytes = bytes.loadUnaligned(
      fromByteOffset: MemoryLayout<vigil_block_info>.offset(of: \.stack_bytes)!, as: Int32.self)
    let depth = max(0, min(Int(stackBytes) / 8, Int(VIGIL_MAX_STACK_DEPTH)))
    let start = MemoryLayout<vigil_block_info>.size
    return StackAddresses(
      UnsafeRawBufferPointer(rebasing: bytes[start..<start + depth * 8]), count: depth)
  }
}

/// A blocking episode as the probes wrote it, without its stack: the fields filters need are
/// read without decoding; `episode(stack:)` decodes it.
public struct BlockInfo: Sendable, BitwiseCopyable {
  let raw: vigil_block_info

  public var kind: BlockingKind {
    raw.kind == UInt32(VIGIL_RECORD_FUTEX.rawValue) ? .futex : .offcpu
  }
  public var pid: Int32 { Int32(bitPattern: raw.pid) }
  public var durationNanoseconds: UInt64 { raw.duration_ns }

  /// The episode, with `stack` (its return addresses, innermost first).
  public func episode(stack: [UInt64]) -> BlockingEpisode {
    let isFutex = kind == .futex
    let waker: Waker? =
      raw.waker_tid == 0
      ? nil
      : Waker(
        pid: Int32(bitPattern: raw.waker_pid), tid: Int32(bitPattern: raw.waker_tid),
        comm: cString(raw.waker_comm))
    let futex: FutexWait? =
      isFutex
      ? FutexWait(
        address: raw.futex_uaddr, operation: raw.futex_op,
        syscall: FutexSyscall(rawValue: raw.futex_syscall) ?? .futex,
        returnValue: raw.futex_ret, outcome: FutexWait.Outcome(abi: raw.futex_outcome))
      : nil
    return BlockingEpisode(
      kind: kind,
      pid: pid,
      tid: Int32(bitPattern: raw.tid),
      targetID: raw.target_id,
      comm: cString(raw.comm),
      startMonotonicNanoseconds: raw.start_ns,
      durationNanoseconds: raw.duration_ns,
      state: isFutex ? nil : SleepState(kernelState: raw.state),
      waker: waker,
      futex: futex,
      goroutine: raw.goroutine > 0 ? raw.goroutine : nil,
      stack: stack,
      stackError: raw.stack_bytes < 0 ? 0 &- raw.stack_bytes : nil)
  }
}

/// The return addresses of a record's stack, innermost first, read in place.
public struct StackAddresses: RandomAccessCollection {
  private let bytes: UnsafeRawBufferPointer
  public let count: Int

  init(_ bytes: UnsafeRawBufferPointer, count: Int) {
    self.bytes = bytes
    self.count = count
  }

  public var startIndex: Int { 0 }
  public var endIndex: Int { count }
  public subscript(index: Int) -> UInt64 {
    precondition(index >= 0 && index < count, "stack index out of range")
    return bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
  }

  /// The addresses in place when they are aligned (ring buffer records are), else nil.
  public func withContiguousStorageIfAvailable<Result>(
    _ body: (UnsafeBufferPointer<UInt64>) throws -> Result
  ) rethrows -> Result? {
    guard count > 0 else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
    guard let base = bytes.baseAddress, Int(bitPattern: base) % 8 == 0 else { return nil }
    return try body(
      UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt64.self), count: count))
  }
}

/// An exec or exit record.
public struct ProcessRecord: Sendable, BitwiseCopyable {
  let raw: vigil_process_record

  public var isExec: Bool { raw.kind == UInt32(VIGIL_RECORD_EXEC.rawValue) }
  public var pid: Int32 { Int32(bitPattern: raw.pid) }
  public var targetID: UInt32 { raw.target_id }
  public var comm: String { cString(raw.comm) }
}

extension FutexWait.Outcome {
  init(abi raw: UInt32) {
    switch raw {
    case UInt32(VIGIL_FUTEX_WOKEN.rawValue): self = .woken
    case UInt32(VIGIL_FUTEX_TIMED_OUT.rawValue): self = .timedOut
    case UInt32(VIGIL_FUTEX_INTERRUPTED.rawValue): self = .interrupted
    default: self = .error
    }
  }
}

/// A NUL-terminated C char array (read to its end at most) as a String.
func cString<Tuple>(_ tuple: Tuple) -> String {
  withUnsafeBytes(of: tuple) { raw in
    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
  }
}
