import CVigilABI
import Testing

@testable import BlockingModel

/// Records built with the C ABI structs, as the BPF programs lay them out, and decoded.
@Suite struct RecordDecoderTests {
  // MARK: Building records

  /// Copies `text`'s UTF-8 into a C char array (a tuple), NUL-padded, truncated to fit.
  private static func setChars<Tuple>(_ tuple: inout Tuple, _ text: String) {
    withUnsafeMutableBytes(of: &tuple) { raw in
      for index in raw.indices { raw[index] = 0 }
      for (index, byte) in text.utf8.prefix(raw.count).enumerated() { raw[index] = byte }
    }
  }

  /// Writes `frames` into the record's stack and sets `stack_bytes` to match.
  private static func setStack(_ record: inout vigil_block_record, _ frames: [UInt64]) {
    withUnsafeMutableBytes(of: &record.stack) { raw in
      for (index, frame) in frames.enumerated() {
        raw.storeBytes(of: frame, toByteOffset: index * 8, as: UInt64.self)
      }
    }
    record.info.stack_bytes = Int32(frames.count * 8)
  }

  private static func blockRecord(
    kind: vigil_record_kind = VIGIL_RECORD_OFFCPU, pid: UInt32 = 4242, tid: UInt32 = 4243,
    comm: String = "worker"
  ) -> vigil_block_record {
    var record = vigil_block_record()
    record.info.kind = UInt32(kind.rawValue)
    record.info.pid = pid
    record.info.tid = tid
    record.info.target_id = 7
    record.info.start_ns = 123_456_789_012
    record.info.duration_ns = 250_000_000
    setChars(&record.info.comm, comm)
    return record
  }

  private static func futexRecord(
    op: UInt32, syscall: vigil_futex_syscall = VIGIL_FUTEX_SYS_FUTEX,
    outcome: vigil_futex_outcome = VIGIL_FUTEX_WOKEN, ret: Int32 = 0
  ) -> vigil_block_record {
    var record = blockRecord(kind: VIGIL_RECORD_FUTEX)
    record.info.futex_op = op
    record.info.futex_uaddr = 0x7ffd_1234_abc0
    record.info.futex_syscall = UInt32(syscall.rawValue)
    record.info.futex_outcome = UInt32(outcome.rawValue)
    record.info.futex_ret = ret
    return record
  }

  private static func processRecord(kind: vigil_record_kind, pid: UInt32, comm: String)
    -> vigil_process_record
  {
    var record = vigil_process_record()
    record.kind = UInt32(kind.rawValue)
    record.pid = pid
    record.target_id = 3
    setChars(&record.comm, comm)
    return record
  }

  /// The record's bytes, as the ring buffer hands them over.
  private static func bytes<T>(of record: T) -> [UInt8] {
    withUnsafeBytes(of: record) { Array($0) }
  }

  private static func decode(_ bytes: [UInt8]) throws -> ProbeRecord {
    try bytes.withUnsafeBytes { raw in try RecordDecoder.decode(raw) }
  }

  private static func decodeEpisode<T>(_ record: T) throws -> BlockingEpisode {
    let decoded = try decode(bytes(of: record))
    guard case .blocking(let episode) = decoded else {
      Issue.record("expected a blocking episode, got \(decoded)")
      throw RecordDecodingError(description: "not a blocking episode")
    }
    return episode
  }

  // MARK: Layout

  @Test func abiLayoutSizes() {
    #expect(MemoryLayout<vigil_block_record>.size == 368)
    // The stack comes last, after the info, so the info can be kept without it.
    #expect(MemoryLayout<vigil_block_info>.size == 112)
    #expect(MemoryLayout<vigil_block_record>.offset(of: \.stack) == 112)
    #expect(MemoryLayout<vigil_process_record>.size == 32)
    #expect(VIGIL_COMM_LEN == 16)
    #expect(VIGIL_MAX_STACK_DEPTH == 32)
  }

  // MARK: Off-CPU

  @Test func offcpuWithWakerAndStack() throws {
    var record = Self.blockRecord()
    record.info.state = 2
    record.info.waker_pid = 900
    record.info.waker_tid = 901
    Self.setChars(&record.info.waker_comm, "kworker/0:1")
    Self.setStack(&record, [0x5555_0000_1000, 0x7f00_0000_2000, 0x7f00_0000_3000])

    let episode = try Self.decodeEpisode(record)
    #expect(episode.kind == .offcpu)
    #expect(episode.pid == 4242)
    #expect(episode.tid == 4243)
    #expect(episode.targetID == 7)
    #expect(episode.comm == "worker")
    #expect(episode.startMonotonicNanoseconds == 123_456_789_012)
    #expect(episode.durationNanoseconds == 250_000_000)
    #expect(episode.state == .uninterruptible)
    #expect(episode.waker == Waker(pid: 900, tid: 901, comm: "kworker/0:1"))
    #expect(episode.futex == nil)
    #expect(episode.stack == [0x5555_0000_1000, 0x7f00_0000_2000, 0x7f00_0000_3000])
    #expect(episode.stackError == nil)
  }

  /// The kernel writes the goroutine id (> 0), 0 for a thread running none (g0), -1 when the
  /// process is not a known Go process: only an id is a goroutine.
  @Test(arguments: [(Int64(17), Int64?(17)), (0, nil), (-1, nil)])
  func goroutineOfTheThread(written: Int64, decoded: Int64?) throws {
    var record = Self.blockRecord()
    record.info.goroutine = written
    #expect(try Self.decodeEpisode(record).goroutine == decoded)
  }

  @Test func offcpuWithoutWakerIsInterruptible() throws {
    var record = Self.blockRecord()
    record.info.state = 1
    record.info.waker_pid = 0
    record.info.waker_tid = 0
    let episode = try Self.decodeEpisode(record)
    #expect(episode.state == .interruptible)
    #expect(episode.waker == nil)
    #expect(episode.stack.isEmpty)
    #expect(episode.stackError == nil)
  }

  @Test(arguments: [0, 3, 4, 0x402] as [UInt32])
  func offcpuWithUnknownStateHasNone(state: UInt32) throws {
    var record = Self.blockRecord()
    record.info.state = state
    #expect(try Self.decodeEpisode(record).state == nil)
  }

  /// `stack_bytes` counts filled bytes: whole frames only, at most the array's depth.
  @Test(
    arguments: [
      (0, 0), (8, 1), (15, 1), (16, 2), (20, 2), (255, 31), (256, 32), (264, 32), (100_000, 32),
    ] as [(Int32, Int)])
  func stackBytesGiveTheFrameCount(stackBytes: Int32, frames: Int) throws {
    var record = Self.blockRecord()
    Self.setStack(&record, (0..<32).map { 0x1000 + UInt64($0) })
    record.info.stack_bytes = stackBytes
    let episode = try Self.decodeEpisode(record)
    #expect(episode.stack == (0..<frames).map { 0x1000 + UInt64($0) })
    #expect(episode.stackError == nil)
  }

  /// A negative `stack_bytes` is an errno from bpf_get_stack: no frames, the error kept.
  @Test(arguments: [-14, -1, -2, -22] as [Int32])
  func negativeStackBytesIsAStackError(stackBytes: Int32) throws {
    var record = Self.blockRecord()
    Self.setStack(&record, [0xdead, 0xbeef])
    record.info.stack_bytes = stackBytes
    let episode = try Self.decodeEpisode(record)
    #expect(episode.stack.isEmpty)
    #expect(episode.stackError == -stackBytes)
  }

  @Test func pidsAreReadAsSignedBitPatterns() throws {
    var record = Self.blockRecord(pid: 0xFFFF_FFFF, tid: 0x8000_0000)
    record.info.waker_pid = 0xFFFF_FFFE
    record.info.waker_tid = 1
    let episode = try Self.decodeEpisode(record)
    #expect(episode.pid == -1)
    #expect(episode.tid == Int32.min)
    #expect(episode.waker?.pid == -2)
  }

  // MARK: Futex

  @Test(
    arguments: [
      (VIGIL_FUTEX_WOKEN, 0, FutexWait.Outcome.woken),
      (VIGIL_FUTEX_TIMED_OUT, -110, .timedOut),
      (VIGIL_FUTEX_INTERRUPTED, -4, .interrupted),
      (VIGIL_FUTEX_ERROR, -22, .error),
    ] as [(vigil_futex_outcome, Int32, FutexWait.Outcome)])
  func futexOutcomes(outcome: vigil_futex_outcome, ret: Int32, expected: FutexWait.Outcome) throws {
    let record = Self.futexRecord(op: 128, outcome: outcome, ret: ret)
    let episode = try Self.decodeEpisode(record)
    #expect(episode.kind == .futex)
    let futex = try #require(episode.futex)
    #expect(futex.outcome == expected)
    #expect(futex.returnValue == ret)
    #expect(futex.address == 0x7ffd_1234_abc0)
    #expect(futex.operation == 128)
    #expect(futex.syscall == .futex)
  }

  @Test func unknownFutexOutcomeIsAnError() throws {
    var record = Self.futexRecord(op: 0)
    record.info.futex_outcome = 77
    #expect(try Self.decodeEpisode(record).futex?.outcome == .error)
  }

  /// Futex episodes carry no sleep state, even if the field holds something.
  @Test func futexEpisodeHasNoSleepState() throws {
    var record = Self.futexRecord(op: 128)
    record.info.state = 1
    let episode = try Self.decodeEpisode(record)
    #expect(episode.state == nil)
  }

  @Test(
    arguments: [
      (0, VIGIL_FUTEX_SYS_FUTEX, "FUTEX_WAIT"),
      (128, VIGIL_FUTEX_SYS_FUTEX, "FUTEX_WAIT_PRIVATE"),
      (9 | 128 | 256, VIGIL_FUTEX_SYS_FUTEX, "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME"),
      (9 | 256, VIGIL_FUTEX_SYS_FUTEX, "FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME"),
      (6 | 128, VIGIL_FUTEX_SYS_FUTEX, "FUTEX_LOCK_PI_PRIVATE"),
      (13, VIGIL_FUTEX_SYS_FUTEX, "FUTEX_LOCK_PI2"),
      (11 | 128, VIGIL_FUTEX_SYS_FUTEX, "FUTEX_WAIT_REQUEUE_PI_PRIVATE"),
      (99, VIGIL_FUTEX_SYS_FUTEX, "FUTEX_OP_99"),
      (0, VIGIL_FUTEX_SYS_WAITV, "futex_waitv"),
      (128, VIGIL_FUTEX_SYS_WAITV, "futex_waitv"),
      (2, VIGIL_FUTEX_SYS_WAIT, "futex_wait"),
    ] as [(UInt32, vigil_futex_syscall, String)])
  func futexOperationNames(op: UInt32, syscall: vigil_futex_syscall, name: String) throws {
    let record = Self.futexRecord(op: op, syscall: syscall)
    let futex = try #require(try Self.decodeEpisode(record).futex)
    #expect(futex.operationName == name)
    #expect(futex.operation == op)
  }

  @Test func futexSyscallsAreDecoded() throws {
    #expect(
      try Self.decodeEpisode(Self.futexRecord(op: 0, syscall: VIGIL_FUTEX_SYS_WAITV)).futex?.syscall
        == .futexWaitv)
    #expect(
      try Self.decodeEpisode(Self.futexRecord(op: 0, syscall: VIGIL_FUTEX_SYS_WAIT)).futex?.syscall
        == .futexWait)
    var unknown = Self.futexRecord(op: 128)
    unknown.info.futex_syscall = 42
    let futex = try #require(try Self.decodeEpisode(unknown).futex)
    #expect(futex.syscall == .futex)
    #expect(futex.operationName == "FUTEX_WAIT_PRIVATE")
  }

  @Test func futexWithWakerAndStack() throws {
    var record = Self.futexRecord(op: 128)
    record.info.waker_pid = 4242
    record.info.waker_tid = 4250
    Self.setChars(&record.info.waker_comm, "producer")
    Self.setStack(&record, [0x7f00_0000_1111, 0x5555_0000_2222])
    let episode = try Self.decodeEpisode(record)
    #expect(episode.waker == Waker(pid: 4242, tid: 4250, comm: "producer"))
    #expect(episode.stack == [0x7f00_0000_1111, 0x5555_0000_2222])
  }

  // MARK: Process records

  @Test func execRecord() throws {
    let record = Self.processRecord(kind: VIGIL_RECORD_EXEC, pid: 31337, comm: "nginx")
    #expect(try Self.decode(Self.bytes(of: record)) == .exec(pid: 31337, comm: "nginx"))
  }

  @Test func exitRecord() throws {
    let record = Self.processRecord(kind: VIGIL_RECORD_EXIT, pid: 31338, comm: "postgres")
    #expect(
      try Self.decode(Self.bytes(of: record)) == .exit(pid: 31338, targetID: 3, comm: "postgres"))
  }

  // MARK: comm

  /// The kernel keeps 15 bytes of the name plus a NUL.
  @Test func fifteenCharacterComm() throws {
    let comm = "abcdefghijklmno"
    #expect(comm.utf8.count == 15)
    var block = Self.blockRecord(comm: comm)
    block.info.waker_tid = 1
    Self.setChars(&block.info.waker_comm, comm)
    let episode = try Self.decodeEpisode(block)
    #expect(episode.comm == comm)
    #expect(episode.waker?.comm == comm)

    let exec = Self.processRecord(kind: VIGIL_RECORD_EXEC, pid: 5, comm: comm)
    #expect(try Self.decode(Self.bytes(of: exec)) == .exec(pid: 5, comm: comm))
  }

  /// A comm that fills all 16 bytes (no NUL) is read to the end of the array, not beyond.
  @Test func unterminatedCommStopsAtTheArray() throws {
    var record = Self.blockRecord()
    Self.setChars(&record.info.comm, "0123456789abcdef")
    Self.setChars(&record.info.waker_comm, "WAKER")
    record.info.waker_tid = 1
    let episode = try Self.decodeEpisode(record)
    #expect(episode.comm == "0123456789abcdef")
    #expect(episode.waker?.comm == "WAKER")
  }

  @Test func emptyComm() throws {
    let record = Self.processRecord(kind: VIGIL_RECORD_EXIT, pid: 9, comm: "")
    #expect(try Self.decode(Self.bytes(of: record)) == .exit(pid: 9, targetID: 3, comm: ""))
  }

  // MARK: Buffers

  @Test func longerBufferDecodesTheLeadingRecord() throws {
    let record = Self.processRecord(kind: VIGIL_RECORD_EXEC, pid: 77, comm: "sh")
    let padded = Self.bytes(of: record) + [UInt8](repeating: 0xAA, count: 24)
    #expect(try Self.decode(padded) == .exec(pid: 77, comm: "sh"))
  }

  @Test func unalignedBufferDecodes() throws {
    var record = Self.blockRecord()
    Self.setStack(&record, [0x1234_5678_9abc])
    let shifted = [0xFF] + Self.bytes(of: record)
    let decoded = try shifted.withUnsafeBytes { raw in
      try RecordDecoder.decode(UnsafeRawBufferPointer(rebasing: raw.dropFirst()))
    }
    guard case .blocking(let episode) = decoded else {
      Issue.record("expected a blocking episode, got \(decoded)")
      return
    }
    #expect(episode.stack == [0x1234_5678_9abc])
    #expect(episode.durationNanoseconds == 250_000_000)
  }

  // MARK: Rejected records

  @Test(arguments: [0, 1, 3])
  func recordWithoutKindThrows(count: Int) {
    #expect(throws: RecordDecodingError.self) {
      try Self.decode([UInt8](repeating: 0, count: count))
    }
  }

  @Test func truncatedBlockRecordThrows() {
    let full = Self.bytes(of: Self.futexRecord(op: 128))
    for count in [4, 16, 100, full.count - 1] {
      #expect(throws: RecordDecodingError.self) { try Self.decode(Array(full.prefix(count))) }
    }
  }

  @Test func truncatedProcessRecordThrows() {
    let full = Self.bytes(of: Self.processRecord(kind: VIGIL_RECORD_EXIT, pid: 1, comm: "x"))
    for count in [4, 16, full.count - 1] {
      #expect(throws: RecordDecodingError.self) { try Self.decode(Array(full.prefix(count))) }
    }
  }

  @Test(arguments: [0, 5, 99, 0xFFFF_FFFF] as [UInt32])
  func unknownKindThrows(kind: UInt32) {
    var record = Self.blockRecord()
    record.info.kind = kind
    #expect {
      try Self.decode(Self.bytes(of: record))
    } throws: { error in
      (error as? RecordDecodingError)?.description.contains("\(kind)") == true
    }
  }
}
