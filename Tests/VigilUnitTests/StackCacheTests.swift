import Testing

@testable import Agent

@Suite struct StackCacheTests {
  @Test func aStackSeenAgainIsTheSameStack() {
    var cache = StackCache()
    let first = cache.stack(pid: 1, addresses: [0x10, 0x20])
    #expect(first.addresses == [0x10, 0x20])
    #expect(first.pid == 1)
    #expect(first.rendering == nil)
    first.rendering = RenderedStack.Rendering(stack: ["f"], frames: [])
    for _ in 0..<3 { #expect(cache.stack(pid: 1, addresses: [0x10, 0x20]) === first) }
    // Same addresses in another process are another stack.
    #expect(cache.stack(pid: 2, addresses: [0x10, 0x20]) !== first)
  }

  /// Stacks that share frames, or differ only in length or order, are different stacks.
  @Test func similarStacksAreKeptApart() {
    var cache = StackCache()
    let stacks: [[UInt64]] = [[], [1], [1, 2], [2, 1], [1, 2, 0], [0, 1, 2]]
    let made = stacks.map { cache.stack(pid: 7, addresses: $0) }
    #expect(made.map(\.addresses) == stacks)
    for (addresses, stack) in zip(stacks, made) {
      #expect(cache.stack(pid: 7, addresses: addresses) === stack)
    }
  }

  @Test func forgettingAProcessDropsOnlyItsStacks() {
    var cache = StackCache()
    let a = cache.stack(pid: 1, addresses: [1])
    let b = cache.stack(pid: 2, addresses: [1])
    cache.forget(pid: 1)
    #expect(cache.stack(pid: 1, addresses: [1]) !== a)
    #expect(cache.stack(pid: 2, addresses: [1]) === b)
  }

  @Test func aFullCacheStartsOver() {
    var cache = StackCache(capacity: 2)
    let a = cache.stack(pid: 1, addresses: [1])
    _ = cache.stack(pid: 1, addresses: [2])
    _ = cache.stack(pid: 1, addresses: [3])
    #expect(cache.stack(pid: 1, addresses: [1]) !== a)
  }
}
