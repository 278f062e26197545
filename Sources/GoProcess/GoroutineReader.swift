import GoroutineModel

extension GoProcessInspector {
  /// Goroutines read and decoded together.
  static let chunkSize = 4096

  /// Reads `allgs` and every `g`; returns the goroutines and the set of their goids.
  func readGoroutines(taken: SnapshotTime) throws(GoProcessError) -> (GoroutineSnapshot, GoidSet) {
    let slice = offsets.slice
    let header = try memory.read(
      [
        .init(address: allglen &+ loadBias, count: 8),
        .init(address: allgs &+ loadBias, count: max(slice.len, slice.array) + 8),
      ], what: "runtime.allglen and runtime.allgs")
    guard let length = header.load(0, 0, as: UInt64.self),
      let array = header.load(1, slice.array, as: UInt64.self),
      let sliceLength = header.load(1, slice.len, as: UInt64.self)
    else {
      throw .unreadable(
        pid: pid, address: allgs &+ loadBias, count: 24, what: "runtime.allgs", errno: 14)
    }
    // allglen is published after the slice grows: never read past either.
    let available = min(length, sliceLength)
    let count = Int(min(available, UInt64(limits.maxGoroutines)))
    let pointers = try memory.read(
      [.init(address: array, count: count * 8)], what: "runtime.allgs array")
    guard pointers.isReadable(0) else {
      throw .unreadable(
        pid: pid, address: array, count: count * 8, what: "runtime.allgs array", errno: 14)
    }
    let addresses = (0..<count).map { pointers.load(0, $0 * 8, as: UInt64.self) ?? 0 }
    var goroutines: [Goroutine] = []
    goroutines.reserveCapacity(count)
    var (dead, dropped) = (0, 0)
    var seen = GoidSet(capacity: count)
    // Only the part of each g up to the last field decoded.
    let extent = DecodedG.extent(of: offsets)
    let gPrefix = min(offsets.g.size, extent)
    // Moved out for the loop (no exclusivity checks on the class's property), put back after.
    var memo = remembered
    remembered = RememberedGs()
    defer { remembered = memo }
    memo.resize(to: count)
    var unused: [Int] = []
    // In chunks, so that read buffers stay small enough for the allocator to reuse them.
    for chunk in stride(from: 0, to: count, by: Self.chunkSize) {
      let indices = chunk..<min(count, chunk + Self.chunkSize)
      let records = try memory.read(
        indices.map {
          .init(address: addresses[$0], count: addresses[$0] == 0 ? 0 : gPrefix)
        },
        what: "runtime.g")
      // Goroutines that read differently from the last snapshot, and where they go.
      var fresh: [(index: Int, position: Int, g: DecodedG)] = []
      let decoded: [DecodedG?] = records.withRecords { bytes, slots in
        (0..<indices.count).map { position in
          guard let slot = slots[position] else { return nil }
          return DecodedG(
            record: UnsafeRawBufferPointer(rebasing: bytes[slot]), offsets: offsets,
            extent: extent, statuses: statuses)
        }
      }
      for (position, index) in indices.enumerated() {
        guard addresses[index] != 0, let g = decoded[position] else {
          dropped += 1
          memo.forget(index)
          continue
        }
        if g.status == .dead {
          dead += 1
          memo.forget(index)
          continue
        }
        guard g.isConsistent, seen.insert(g.goid) else {
          dropped += 1
          memo.forget(index)
          continue
        }
        if memo.addresses[index] == addresses[index], memo.decoded[index] == g {
          goroutines.append(memo.goroutines[index])
          continue
        }
        fresh.append((index, goroutines.count, g))
        goroutines.append(RememberedGs.placeholder)
      }
      try build(fresh, addresses: addresses, memo: &memo, into: &goroutines, unused: &unused)
    }
    dropped += unused.count
    if !unused.isEmpty {
      let drop = Set(unused)
      goroutines = goroutines.indices.filter { !drop.contains($0) }.map { goroutines[$0] }
    }
    return (
      GoroutineSnapshot(
        pid: pid, taken: taken, goroutines: goroutines, deadCount: dead, droppedCount: dropped,
        truncated: available > UInt64(count)),
      seen
    )
  }

  /// Makes goroutines of records that changed: the creation and start sites and the stack come
  /// from the last snapshot when the same goroutine (and, for the stack, the same saved
  /// context) was there; the rest are walked and resolved. Positions of torn records (a live
  /// goroutine whose start PC is in no function) go to `unused`.
  private func build(
    _ fresh: [(index: Int, position: Int, g: DecodedG)], addresses: [UInt64],
    memo: inout RememberedGs, into goroutines: inout [Goroutine], unused: inout [Int]
  ) throws(GoProcessError) {
    guard !fresh.isEmpty else { return }
    var stacks = [[StackFrame]?](repeating: nil, count: fresh.count)
    var walk: [Int] = []
    for (item, entry) in fresh.enumerated() where entry.g.hasSavedContext {
      if memo.same(entry.index, address: addresses[entry.index], goid: entry.g.goid),
        memo.decoded[entry.index].savedContext == entry.g.savedContext
      {
        stacks[item] = memo.goroutines[entry.index].stack
      } else {
        walk.append(item)
      }
    }
    let walked = try walkStacks(walk.map { fresh[$0].g })
    for (item, pcs) in zip(walk, walked) { stacks[item] = resolveStack(pcs) }
    for (item, entry) in fresh.enumerated() {
      let g = entry.g
      let known =
        memo.same(entry.index, address: addresses[entry.index], goid: g.goid)
        && memo.decoded[entry.index].gopc == g.gopc
        && memo.decoded[entry.index].startpc == g.startpc
      let before = known ? memo.goroutines[entry.index] : nil
      let start = before?.start ?? resolve(g.startpc, returnAddress: false)
      // A live goroutine runs a function in the text: anything else is a torn record.
      guard g.status == .idle || start.function != nil else {
        unused.append(entry.position)
        memo.forget(entry.index)
        continue
      }
      let reason =
        g.status.isParked && Int(g.waitReason) < waitReasons.count
        ? waitReasons[Int(g.waitReason)] : ""
      let goroutine = Goroutine(
        goid: g.goid, status: g.status, rawStatus: g.rawStatus,
        waitReason: reason.isEmpty ? nil : reason,
        creation: before?.creation ?? resolve(g.gopc, returnAddress: true), start: start,
        trackingSeq: g.trackingSeq,
        waitingSinceNanoseconds: g.waitsince > 0 ? UInt64(g.waitsince) : nil,
        parentGoid: g.parentGoid, stack: stacks[item] ?? [])
      goroutines[entry.position] = goroutine
      memo.addresses[entry.index] = addresses[entry.index]
      memo.decoded[entry.index] = g
      memo.goroutines[entry.index] = goroutine
    }
  }
}
