import CVigilABI

/// A record that does not match the ABI shared with the BPF programs.
public struct RecordDecodingError: Error, CustomStringConvertible, Sendable {
  public var description: String
}

/// Decodes ring buffer records laid out by `bpf/include/vigil_abi.h`.
public enum RecordDecoder {
  /// Decodes one record. Throws for a short or unknown record.
  public static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError)
    -> ProbeRecord
  {
    guard bytes.count >= MemoryLayout<UInt32>.size else {
      throw RecordDecodingError(description: "record of \(bytes.count) bytes has no kind")
    }
    let kind = bytes.loadUnaligned(as: UInt32.self)
    switch kind {
    case UInt32(VIGIL_RECORD_OFFCPU.rawValue), UInt32(VIGIL_RECORD_FUTEX.rawValue):
      return .blocking(try decodeBlock(bytes))
    case UInt32(VIGIL_RECORD_EXEC.rawValue), UInt32(VIGIL_RECORD_EXIT.rawValue):
      let record = try load(vigil_process_record.self, from: bytes)
      let comm = string(record.comm)
      if kind == UInt32(VIGIL_RECORD_EXEC.rawValue) {
        return .exec(pid: Int32(bitPattern: record.pid), comm: comm)
      }
      return .exit(pid: Int32(bitPattern: record.pid), targetID: record.target_id, comm: comm)
    default:
      throw RecordDecodingError(description: "unknown record kind \(kind)")
    }
  }

  private static func decodeBlock(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError)
    -> BlockingEpisode
  {
    let record = try load(vigil_block_record.self, from: bytes)
    let isFutex = record.kind == UInt32(VIGIL_RECORD_FUTEX.rawValue)
    let frameCount = max(0, min(Int(record.stack_bytes) / 8, Int(VIGIL_MAX_STACK_DEPTH)))
    let stack = withUnsafeBytes(of: record.stack) { raw in
      (0..<frameCount).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
    }
    let waker: Waker? =
      record.waker_tid == 0
      ? nil
      : Waker(
        pid: Int32(bitPattern: record.waker_pid), tid: Int32(bitPattern: record.waker_tid),
        comm: string(record.waker_comm))
    let futex: FutexWait? =
      isFutex
      ? FutexWait(
        address: record.futex_uaddr, operation: record.futex_op,
        syscall: FutexSyscall(rawValue: record.futex_syscall) ?? .futex,
        returnValue: record.futex_ret, outcome: outcome(record.futex_outcome))
      : nil
    return BlockingEpisode(
      kind: isFutex ? .futex : .offcpu,
      pid: Int32(bitPattern: record.pid),
      tid: Int32(bitPattern: record.tid),
      targetID: record.target_id,
      comm: string(record.comm),
      startMonotonicNanoseconds: record.start_ns,
      durationNanoseconds: record.duration_ns,
      state: isFutex ? nil : SleepState(kernelState: record.state),
      waker: waker,
      futex: futex,
      goroutine: record.goroutine > 0 ? record.goroutine : nil,
      stack: stack,
      stackError: record.stack_bytes < 0 ? 0 &- record.stack_bytes : nil)
  }

  private static func outcome(_ raw: UInt32) -> FutexWait.Outcome {
    switch raw {
    case UInt32(VIGIL_FUTEX_WOKEN.rawValue): .woken
    case UInt32(VIGIL_FUTEX_TIMED_OUT.rawValue): .timedOut
    case UInt32(VIGIL_FUTEX_INTERRUPTED.rawValue): .interrupted
    default: .error
    }
  }

  private static func load<T>(_ type: T.Type, from bytes: UnsafeRawBufferPointer)
    throws(RecordDecodingError)
    -> T
  {
    guard bytes.count >= MemoryLayout<T>.size else {
      throw RecordDecodingError(
        description: "\(T.self) needs \(MemoryLayout<T>.size) bytes, record has \(bytes.count)")
    }
    return bytes.loadUnaligned(as: T.self)
  }

  /// A NUL-terminated C char array as a String.
  static func string<Tuple>(_ tuple: Tuple) -> String {
    withUnsafeBytes(of: tuple) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
  }
}
