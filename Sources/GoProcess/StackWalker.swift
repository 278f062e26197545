extension GoProcessInspector {
  /// Bytes read from the top of each saved stack at once; deeper frames are read one by one.
  static let stackWindow: UInt64 = 1024

  /// Walks the saved stacks of `gs` (all with a saved context) together by frame pointers and
  /// returns each one's PCs, innermost first: first the top `stackWindow` bytes of every stack
  /// in one batched read, then, for the few stacks whose frames go deeper, one batched read per
  /// further frame.
  func walkStacks(_ gs: [DecodedG]) throws(GoProcessError) -> [[UInt64]] {
    struct Walk {
      var index: Int
      var bp: UInt64
      var hi: UInt64
    }
    var pcs = gs.map { [$0.pc] }
    var walks: [Walk] = []
    for (index, g) in gs.enumerated()
    where g.bp >= max(g.sp, g.stackLo) && g.bp <= g.stackHi &- 16 && g.bp % 8 == 0 {
      walks.append(Walk(index: index, bp: g.bp, hi: g.stackHi))
    }
    let maxDepth = limits.maxStackDepth
    /// Follows one frame record (saved caller BP, return address); false when the walk ends.
    func step(_ walk: inout Walk, callerBP: UInt64, ret: UInt64) -> Bool {
      guard ret != 0 else { return false }
      pcs[walk.index].append(ret)
      guard callerBP > walk.bp, callerBP <= walk.hi &- 16, callerBP % 8 == 0,
        pcs[walk.index].count < maxDepth
      else { return false }
      walk.bp = callerBP
      return true
    }
    let windows = try memory.read(
      walks.map {
        let g = gs[$0.index]
        return .init(address: g.sp, count: Int(min(g.stackHi - g.sp, Self.stackWindow)))
      }, what: "goroutine stacks")
    var deeper: [Walk] = []
    for (position, start) in walks.enumerated() {
      var walk = start
      let base = gs[walk.index].sp
      while true {
        let offset = Int(walk.bp - base)
        guard let callerBP = windows.load(position, offset, as: UInt64.self),
          let ret = windows.load(position, offset + 8, as: UInt64.self)
        else {
          deeper.append(walk)
          break
        }
        guard step(&walk, callerBP: callerBP, ret: ret) else { break }
      }
    }
    walks = deeper
    while !walks.isEmpty {
      let words = try memory.read(
        walks.map { .init(address: $0.bp, count: 16) }, what: "goroutine stack frame")
      var next: [Walk] = []
      for (position, start) in walks.enumerated() {
        var walk = start
        guard let callerBP = words.load(position, 0, as: UInt64.self),
          let ret = words.load(position, 8, as: UInt64.self),
          step(&walk, callerBP: callerBP, ret: ret)
        else { continue }
        next.append(walk)
      }
      walks = next
    }
    return pcs
  }
}
