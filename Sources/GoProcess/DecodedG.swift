import GoRuntime
import GoroutineModel

/// The fields of one `runtime.g` record.
struct DecodedG: Equatable {
  var goid: Int64
  var status: GoroutineStatus
  var rawStatus: UInt32
  var waitReason: UInt8
  var trackingSeq: UInt8?
  var parentGoid: Int64?
  var gopc: UInt64
  var startpc: UInt64
  var waitsince: Int64
  var stackLo: UInt64
  var stackHi: UInt64
  var sp: UInt64
  var pc: UInt64
  var bp: UInt64

  init?(
    _ batch: ProcessMemory.Batch, _ index: Int, offsets: GoOffsets, statuses: [GoroutineStatus]
  ) {
    let g = offsets.g
    func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T? {
      batch.load(index, offset, as: T.self)
    }
    guard let raw = load(g.atomicstatus, UInt32.self), let goid = load(g.goid, Int64.self),
      let reason = load(g.waitreason, UInt8.self), let gopc = load(g.gopc, UInt64.self),
      let startpc = load(g.startpc, UInt64.self), let waitsince = load(g.waitsince, Int64.self),
      let lo = load(g.stack + offsets.stack.lo, UInt64.self),
      let hi = load(g.stack + offsets.stack.hi, UInt64.self),
      let sp = load(g.sched + offsets.gobuf.sp, UInt64.self),
      let pc = load(g.sched + offsets.gobuf.pc, UInt64.self),
      let bp = load(g.sched + offsets.gobuf.bp, UInt64.self)
    else { return nil }
    let base = Int(raw & ~0x1000)
    status = base < statuses.count ? statuses[base] : .unknown
    (self.goid, rawStatus, waitReason, self.gopc, self.startpc) = (goid, raw, reason, gopc, startpc)
    trackingSeq = g.trackingSeq.flatMap { load($0, UInt8.self) }
    parentGoid = g.parentGoid.flatMap { load($0, Int64.self) }
    (self.waitsince, stackLo, stackHi, self.sp, self.pc, self.bp) = (
      waitsince, lo, hi, sp, pc, bp
    )
  }

  /// Decodes one record with one bounds check: nil if shorter than `extent`, which must be
  /// `extent(of: offsets)`.
  init?(
    record: UnsafeRawBufferPointer, offsets: GoOffsets, extent: Int, statuses: [GoroutineStatus]
  ) {
    guard record.count >= extent else { return nil }
    let g = offsets.g
    func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
      T(littleEndian: record.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
    let raw = load(g.atomicstatus, UInt32.self)
    let base = Int(raw & ~0x1000)
    status = base < statuses.count ? statuses[base] : .unknown
    rawStatus = raw
    goid = load(g.goid, Int64.self)
    waitReason = load(g.waitreason, UInt8.self)
    gopc = load(g.gopc, UInt64.self)
    startpc = load(g.startpc, UInt64.self)
    waitsince = load(g.waitsince, Int64.self)
    stackLo = load(g.stack + offsets.stack.lo, UInt64.self)
    stackHi = load(g.stack + offsets.stack.hi, UInt64.self)
    sp = load(g.sched + offsets.gobuf.sp, UInt64.self)
    pc = load(g.sched + offsets.gobuf.pc, UInt64.self)
    bp = load(g.sched + offsets.gobuf.bp, UInt64.self)
    trackingSeq = g.trackingSeq.map { load($0, UInt8.self) }
    parentGoid = g.parentGoid.map { load($0, Int64.self) }
  }

  /// Nothing (goid 0): a position of `allgs` with nothing remembered.
  static let none = DecodedG()

  private init() {
    (goid, status, rawStatus, waitReason, trackingSeq, parentGoid) = (0, .unknown, 0, 0, nil, nil)
    (gopc, startpc, waitsince, stackLo, stackHi, sp, pc, bp) = (0, 0, 0, 0, 0, 0, 0, 0)
  }

  /// Plausible for a live goroutine: a known status, a positive goid, a sane stack.
  var isConsistent: Bool {
    guard status != .unknown, goid > 0, goid < 1 << 62 else { return false }
    guard hasSavedContext else { return true }
    return stackLo < stackHi && stackHi - stackLo <= 1 << 30 && sp >= stackLo && sp <= stackHi
      && pc != 0
  }

  /// The bytes of a g that hold every field decoded.
  static func extent(of offsets: GoOffsets) -> Int {
    let g = offsets.g
    let words = [
      g.atomicstatus, g.goid, g.waitreason, g.gopc, g.startpc, g.waitsince,
      g.stack + offsets.stack.lo, g.stack + offsets.stack.hi, g.sched + offsets.gobuf.sp,
      g.sched + offsets.gobuf.pc, g.sched + offsets.gobuf.bp, g.trackingSeq ?? 0,
      g.parentGoid ?? 0,
    ]
    return words.max()! + 8
  }

  /// What the stack walk starts from; a goroutine that has not run since keeps its stack.
  struct SavedContext: Equatable {
    var trackingSeq: UInt8?
    var rawStatus: UInt32
    var sp: UInt64
    var pc: UInt64
    var bp: UInt64
    var stackHi: UInt64
  }

  var savedContext: SavedContext {
    SavedContext(
      trackingSeq: trackingSeq, rawStatus: rawStatus, sp: sp, pc: pc, bp: bp, stackHi: stackHi)
  }

  /// Statuses whose `g.sched` holds where the goroutine will resume.
  var hasSavedContext: Bool {
    switch status {
    case .waiting, .leaked, .runnable, .preempted: true
    default: false
    }
  }
}
