import Testing

@testable import Agent

@Suite struct StackCacheTests {
  @Test func aStackSeenAgainHasItsId() {
    var cache = StackCache()
    #expect(cache.stack(pid: 1, addresses: [0x10, 0x20]) == .new(0, restarted: false))
    for _ in 0..<3 { #expect(cache.stack(pid: 1, addresses: [0x10, 0x20]) == .known(0)) }
    // Same addresses in another process are another stack.
    #expect(cache.stack(pid: 2, addresses: [0x10, 0x20]) == .new(1, restarted: false))
  }

  /// Stacks that share frames, or differ only in length or order, are different stacks.
  @Test func similarStacksAreKeptApart() {
    var cache = StackCache()
    let stacks: [[UInt64]] = [[], [1], [1, 2], [2, 1], [1, 2, 0], [0, 1, 2]]
    let ids = stacks.map { cache.stack(pid: 7, addresses: $0).id }
    #expect(ids == Array(0..<UInt32(stacks.count)))
    for (addresses, id) in zip(stacks, ids) {
      #expect(cache.stack(pid: 7, addresses: addresses) == .known(id))
    }
  }

  /// Up to its capacity every stack is found again, whatever the probing went through.
  @Test func manyStacksAreAllFoundAgain() {
    var cache = StackCache(capacity: 3_000)
    let stacks = (0..<3_000).map { (index: Int) -> (Int32, [UInt64]) in
      let frames: [UInt64] = (0..<(index % 7)).map { UInt64(index * 31 + $0) }
      return (Int32(index % 5), [UInt64(index)] + frames)
    }
    for (index, (pid, addresses)) in stacks.enumerated() {
      #expect(cache.stack(pid: pid, addresses: addresses) == .new(UInt32(index), restarted: false))
    }
    for (index, (pid, addresses)) in stacks.enumerated() {
      #expect(cache.stack(pid: pid, addresses: addresses) == .known(UInt32(index)))
    }
    cache.forget(pid: 0)
    for (index, (pid, addresses)) in stacks.enumerated() where pid != 0 {
      #expect(cache.stack(pid: pid, addresses: addresses) == .known(UInt32(index)))
    }
  }

  @Test func forgettingAProcessDropsOnlyItsStacks() {
    var cache = StackCache()
    _ = cache.stack(pid: 1, addresses: [1])
    _ = cache.stack(pid: 2, addresses: [1])
    cache.forget(pid: 1)
    #expect(cache.stack(pid: 1, addresses: [1]) == .new(2, restarted: false))
    #expect(cache.stack(pid: 2, addresses: [1]) == .known(1))
  }

  /// Once `capacity` ids are given out, the next new stack starts over from id 0, alone.
  @Test func idsStartOverAtCapacity() {
    var cache = StackCache(capacity: 2)
    _ = cache.stack(pid: 1, addresses: [1])
    _ = cache.stack(pid: 1, addresses: [2])
    #expect(cache.stack(pid: 1, addresses: [2]) == .known(1))
    #expect(cache.stack(pid: 1, addresses: [3]) == .new(0, restarted: true))
    #expect(cache.stack(pid: 1, addresses: [1]) == .new(1, restarted: false))
    #expect(cache.stack(pid: 1, addresses: [3]) == .known(0))
  }
}
