import Testing

@testable import Agent

@Suite struct StackCacheTests {
  private static func rendered(_ name: String) -> StackCache.Rendered {
    StackCache.Rendered(stack: [name], frames: [])
  }

  @Test func aStackSeenAgainIsNotRenderedAgain() {
    var cache = StackCache()
    var renders = 0
    for _ in 0..<3 {
      let stack = cache.rendered(pid: 1, addresses: [0x10, 0x20]) {
        renders += 1
        return Self.rendered("f")
      }
      #expect(stack.stack == ["f"])
    }
    #expect(renders == 1)
    // Same addresses in another process are another stack.
    _ = cache.rendered(pid: 2, addresses: [0x10, 0x20]) {
      renders += 1
      return Self.rendered("g")
    }
    #expect(renders == 2)
  }

  @Test func forgettingAProcessDropsOnlyItsStacks() {
    var cache = StackCache()
    _ = cache.rendered(pid: 1, addresses: [1]) { Self.rendered("a") }
    _ = cache.rendered(pid: 2, addresses: [1]) { Self.rendered("b") }
    cache.forget(pid: 1)
    #expect(cache.rendered(pid: 1, addresses: [1]) { Self.rendered("a2") }.stack == ["a2"])
    #expect(cache.rendered(pid: 2, addresses: [1]) { Self.rendered("b2") }.stack == ["b"])
  }

  @Test func aFullCacheStartsOver() {
    var cache = StackCache(capacity: 2)
    _ = cache.rendered(pid: 1, addresses: [1]) { Self.rendered("a") }
    _ = cache.rendered(pid: 1, addresses: [2]) { Self.rendered("b") }
    _ = cache.rendered(pid: 1, addresses: [3]) { Self.rendered("c") }
    #expect(cache.rendered(pid: 1, addresses: [1]) { Self.rendered("a2") }.stack == ["a2"])
  }
}
