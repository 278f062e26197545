import GoroutineModel

extension GoProcessInspector {
  /// Follows `allm` and reads each thread's id and current goroutine. The goroutine's goid is
  /// read from its `g` and kept when `goids` (the snapshot's) has it.
  func readThreads(goids: GoidSet) throws(GoProcessError) -> [GoThread] {
    let head = try memory.read(address: allm &+ loadBias, count: 8, what: "runtime.allm")
    var address = head.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    let m = offsets.m
    let size = [m.id, m.procid, m.curg, m.alllink].max()! + 8
    var threads: [(id: Int64, procid: UInt64, curg: UInt64)] = []
    var visited = Set<UInt64>()
    while address != 0, threads.count < limits.maxThreads, visited.insert(address).inserted {
      let record = try memory.read([.init(address: address, count: size)], what: "runtime.m")
      guard let id = record.load(0, m.id, as: Int64.self),
        let procid = record.load(0, m.procid, as: UInt64.self),
        let curg = record.load(0, m.curg, as: UInt64.self),
        let link = record.load(0, m.alllink, as: UInt64.self)
      else { break }
      threads.append((id, procid, curg))
      address = link
    }
    let running = try memory.read(
      threads.map {
        .init(address: $0.curg &+ UInt64(offsets.g.goid), count: $0.curg == 0 ? 0 : 8)
      },
      what: "runtime.g.goid of m.curg")
    return threads.enumerated().map { position, thread in
      let goid = thread.curg == 0 ? nil : running.load(position, 0, as: Int64.self)
      return GoThread(
        mID: thread.id, tid: Int32(truncatingIfNeeded: thread.procid),
        curgGoid: goid.flatMap { $0 > 0 && goids.contains($0) ? $0 : nil })
    }
  }
}
