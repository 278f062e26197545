import CVigilABI

/// One rule of an endpoint direction, as the block walk sees it.
struct CompiledRule {
  /// The rule's counter index.
  let counter: UInt32
  let deny: Bool
  /// The remote blocks; empty means every address.
  let peers: [IPBlock]
  /// The rule's port ranges, already carrying its action and counter.
  let ranges: [vigil_port_range]

  /// How many blocks the rule adds at most.
  var blockCount: Int {
    peers.isEmpty ? 2 : peers.reduce(0) { $0 + 1 + $1.except.count }
  }
}

/// Computes the address blocks of one endpoint direction.
///
/// Blocks are every rule CIDR and `except` (plus `0.0.0.0/0` when an IPv6 block nests the mapped
/// IPv4 space, so IPv4 addresses never reach IPv6 rules). Visiting them in trie order with a
/// stack of enclosing blocks, a peer turns on at its CIDR and off at its excepts (undone when the
/// walk leaves the block), so each block's covering rules come from an incremental set instead of
/// a scan of all rules.
enum BlockWalk {
  /// A block whose covering rules need more ranges than a value holds.
  struct Overflow {
    let block: IPPrefix
    let ranges: Int
    let counters: [UInt32]
  }

  /// A peer starting at its CIDR or stopping at one of its excepts; peer -1 only marks a block.
  private struct Event {
    let prefix: IPPrefix
    let stops: Bool
    let peer: Int

    /// Trie order, then starts before stops.
    static func before(_ left: Event, _ right: Event) -> Bool {
      if left.prefix != right.prefix { return left.prefix < right.prefix }
      return (left.stops ? 1 : 0, left.peer) < (right.stops ? 1 : 0, right.peer)
    }
  }

  /// Appends each block in trie order to `blocks`, and its ranges, if any, to `values`: deny
  /// ranges first, then allow ranges, each in rule order, leaving out ranges an earlier one
  /// covers (they could never be the verdict). Returns the first block whose ranges do not fit a
  /// value, if any.
  static func append(
    _ rules: [CompiledRule], endpointIndex: UInt32,
    to blocks: inout [AddressBlock], values: inout [vigil_policy_value]
  ) -> Overflow? {
    var peerRule: [Int] = []
    var peerFamily: [Int] = []
    var events: [Event] = []
    for (index, rule) in rules.enumerated() {
      let peers =
        rule.peers.isEmpty ? [IPBlock(cidr: .anyIPv4), IPBlock(cidr: .anyIPv6)] : rule.peers
      for peer in peers {
        events.append(Event(prefix: peer.cidr, stops: false, peer: peerRule.count))
        for except in peer.except {
          events.append(Event(prefix: except, stops: true, peer: peerRule.count))
        }
        peerRule.append(index)
        peerFamily.append(family(peer.cidr))
      }
    }
    if events.contains(where: { !$0.prefix.isIPv4 && $0.prefix.nests(.anyIPv4) }) {
      events.append(Event(prefix: .anyIPv4, stops: false, peer: -1))
    }
    events.sort(by: Event.before)

    var state = CoverState(rules: rules.count, peers: peerRule.count)
    var stack: [(prefix: IPPrefix, undoMark: Int)] = []
    var ranges: [vigil_port_range] = []
    var next = 0
    while next < events.count {
      let prefix = events[next].prefix
      while let top = stack.last, !top.prefix.nests(prefix) {
        state.undo(to: top.undoMark, peerRule: peerRule, peerFamily: peerFamily)
        stack.removeLast()
      }
      stack.append((prefix, state.undoLog.count))
      while next < events.count, events[next].prefix == prefix {
        let peer = events[next].peer
        if peer >= 0 {
          state.set(
            peer, active: !events[next].stops, rule: peerRule[peer], family: peerFamily[peer])
        }
        next += 1
      }
      let covering = state.active[family(prefix)]
      collect(covering, of: rules, into: &ranges)
      guard ranges.count <= Int(VIGIL_POLICY_MAX_RANGES) else {
        return Overflow(
          block: prefix, ranges: ranges.count, counters: covering.map { rules[$0].counter })
      }
      var value = VIGIL_POLICY_NO_VALUE
      if !ranges.isEmpty {
        value = UInt32(values.count)
        values.append(vigil_policy_value(ranges: ranges))
      }
      blocks.append(AddressBlock(endpointIndex: endpointIndex, prefix: prefix, value: value))
    }
    return nil
  }

  private static func family(_ prefix: IPPrefix) -> Int { prefix.isIPv4 ? 0 : 1 }

  private static func collect(
    _ covering: [Int], of rules: [CompiledRule], into ranges: inout [vigil_port_range]
  ) {
    ranges.removeAll(keepingCapacity: true)
    for deny in [true, false] {
      for index in covering where rules[index].deny == deny {
        for range in rules[index].ranges where !ranges.contains(where: { $0.covers(range) }) {
          ranges.append(range)
        }
      }
    }
  }
}

/// Which peers are on, and per address family the rules with at least one peer on, in order.
private struct CoverState {
  var peerOn: [Bool]
  var onCount: [[Int]]
  var active: [[Int]] = [[], []]
  var undoLog: [(peer: Int, active: Bool)] = []

  init(rules: Int, peers: Int) {
    peerOn = Array(repeating: false, count: peers)
    onCount = Array(repeating: Array(repeating: 0, count: rules), count: 2)
  }

  /// Turns a peer on or off, logging the change for `undo`.
  mutating func set(_ peer: Int, active on: Bool, rule: Int, family: Int) {
    guard peerOn[peer] != on else { return }
    flip(peer, rule: rule, family: family)
    undoLog.append((peer, on))
  }

  /// Reverts the changes logged since `mark`.
  mutating func undo(to mark: Int, peerRule: [Int], peerFamily: [Int]) {
    while undoLog.count > mark {
      let peer = undoLog.removeLast().peer
      flip(peer, rule: peerRule[peer], family: peerFamily[peer])
    }
  }

  private mutating func flip(_ peer: Int, rule: Int, family: Int) {
    peerOn[peer].toggle()
    onCount[family][rule] += peerOn[peer] ? 1 : -1
    let position = active[family].partitioningIndex { $0 >= rule }
    if peerOn[peer] && onCount[family][rule] == 1 {
      active[family].insert(rule, at: position)
    } else if !peerOn[peer] && onCount[family][rule] == 0 {
      active[family].remove(at: position)
    }
  }
}

extension Array where Element == Int {
  /// The first index whose element satisfies `belongs`, for an array partitioned by it.
  fileprivate func partitioningIndex(where belongs: (Int) -> Bool) -> Int {
    var low = 0
    var high = count
    while low < high {
      let middle = (low + high) / 2
      if belongs(self[middle]) { high = middle } else { low = middle + 1 }
    }
    return low
  }
}
