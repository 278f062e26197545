import Foundation
import Symbolization
import Testing

@testable import Agent

@Suite struct StackCacheTests {
  private static let symbolizer = Symbolizer()

  /// Looks `addresses` up, making a stack that is not symbolized when it is new.
  private static func lookUp(_ cache: inout StackCache, pid: Int32, _ addresses: [UInt64])
    -> (stack: SharedStack, isNew: Bool)
  {
    cache.stack(pid: pid, addresses: addresses) {
      SharedStack(pid: $0, addresses: $1, symbolizer: symbolizer)
    }
  }

  @Test func aStackSeenAgainIsTheSameStack() {
    var cache = StackCache()
    let (first, isNew) = Self.lookUp(&cache, pid: 1, [0x10, 0x20])
    #expect(isNew)
    #expect(first.pid == 1)
    #expect(first.addresses == [0x10, 0x20])
    for _ in 0..<3 {
      let again = Self.lookUp(&cache, pid: 1, [0x10, 0x20])
      #expect(again.stack === first && !again.isNew)
    }
    // Same addresses in another process are another stack.
    #expect(Self.lookUp(&cache, pid: 2, [0x10, 0x20]).stack !== first)
  }

  /// Stacks that share frames, or differ only in length or order, are different stacks.
  @Test func similarStacksAreKeptApart() {
    var cache = StackCache()
    let stacks: [[UInt64]] = [[], [1], [1, 2], [2, 1], [1, 2, 0], [0, 1, 2]]
    let made = stacks.map { Self.lookUp(&cache, pid: 7, $0) }
    #expect(made.allSatisfy { $0.isNew })
    #expect(made.map(\.stack.addresses) == stacks)
    for (addresses, stack) in zip(stacks, made) {
      #expect(Self.lookUp(&cache, pid: 7, addresses).stack === stack.stack)
    }
  }

  /// Up to its capacity every stack is found again, whatever the probing went through.
  @Test func manyStacksAreAllFoundAgain() {
    var cache = StackCache(capacity: 3_000)
    let stacks = (0..<3_000).map { (index: Int) -> (Int32, [UInt64]) in
      let frames: [UInt64] = (0..<(index % 7)).map { UInt64(index * 31 + $0) }
      return (Int32(index % 5), [UInt64(index)] + frames)
    }
    let made = stacks.map { Self.lookUp(&cache, pid: $0.0, $0.1).stack }
    for ((pid, addresses), stack) in zip(stacks, made) {
      #expect(Self.lookUp(&cache, pid: pid, addresses).stack === stack)
    }
    cache.forget(pid: 0)
    for ((pid, addresses), stack) in zip(stacks, made) {
      let found = Self.lookUp(&cache, pid: pid, addresses)
      #expect((found.stack === stack) == (pid != 0))
    }
  }

  @Test func forgettingAProcessDropsOnlyItsStacks() {
    var cache = StackCache()
    let a = Self.lookUp(&cache, pid: 1, [1]).stack
    let b = Self.lookUp(&cache, pid: 2, [1]).stack
    cache.forget(pid: 1)
    #expect(Self.lookUp(&cache, pid: 1, [1]).stack !== a)
    #expect(Self.lookUp(&cache, pid: 2, [1]).stack === b)
  }

  @Test func aFullCacheStartsOver() {
    var cache = StackCache(capacity: 2)
    let a = Self.lookUp(&cache, pid: 1, [1]).stack
    _ = Self.lookUp(&cache, pid: 1, [2])
    _ = Self.lookUp(&cache, pid: 1, [3])
    #expect(Self.lookUp(&cache, pid: 1, [1]).stack !== a)
  }

  /// A stack is symbolized once, by whoever asks first, and shared by every reader after.
  @Test func aStackIsRenderedOnceOnFirstUse() {
    let ownStack = Thread.callStackReturnAddresses.map(\.uint64Value)
    let stack = SharedStack(pid: getpid(), addresses: ownStack, symbolizer: Self.symbolizer)
    let first = stack.rendering
    #expect(first.stack.count == ownStack.count)
    // (Mangled, the name is shortened by substitutions: look for its tail.)
    #expect(first.stack.contains { $0.contains("IsRenderedOnceOnFirstUse") }, "\(first.stack)")
    #expect(stack.rendering.stack == first.stack)
  }
}
