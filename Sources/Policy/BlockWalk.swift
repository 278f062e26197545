import CVigilABI
import Dispatch

/// One rule of an endpoint direction, as the block walk sees it.
struct CompiledRule {
  /// The rule's counter index.
  let counter: UInt32
  let deny: Bool
  /// The remote blocks; empty means every address.
  let peers: [IPBlock]
  /// The protocols and ports; empty means every protocol and port.
  let ports: [PortSpec]

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
    /// After the address: the mapped length, stops after starts, then the peer.
    private let order: UInt64

    init(prefix: IPPrefix, stops: Bool, peer: Int) {
      self.prefix = prefix
      self.stops = stops
      self.peer = peer
      order = UInt64(prefix.mappedLength) << 40 | (stops ? 1 << 32 : 0) | UInt64(peer + 1)
    }

    /// Trie order, then starts before stops, then by peer.
    static func before(_ left: Event, _ right: Event) -> Bool {
      (left.prefix.address.high, left.prefix.address.low, left.order)
        < (right.prefix.address.high, right.prefix.address.low, right.order)
    }
  }

  /// The rules' fields the walk reads for every block, in flat arrays; their port ranges carry
  /// the rule's action and counter.
  private struct RuleTable {
    var deny: [Bool] = []
    /// Rule `i`'s ranges are `ranges[rangeStarts[i]..<rangeStarts[i + 1]]`.
    var rangeStarts: [Int] = [0]
    var ranges: [vigil_port_range] = []

    init(_ rules: [CompiledRule]) {
      deny.reserveCapacity(rules.count)
      rangeStarts.reserveCapacity(rules.count + 1)
      for rule in rules {
        deny.append(rule.deny)
        let action = rule.deny ? VIGIL_ACTION_DENY : VIGIL_ACTION_ALLOW
        if rule.ports.isEmpty {
          ranges.append(
            vigil_port_range(
              protocol: 0, action: action, counter: rule.counter, ports: 0...UInt16.max))
        }
        for port in rule.ports {
          ranges.append(
            vigil_port_range(
              protocol: port.ipProtocol.number, action: action, counter: rule.counter,
              ports: port.portRange))
        }
        rangeStarts.append(ranges.count)
      }
    }
  }

  /// Appends each block in trie order to `blocks`, and its ranges, if any, to `values`: deny
  /// ranges first, then allow ranges, each in rule order, leaving out ranges an earlier one
  /// covers (they could never be the verdict). Returns the first block whose ranges do not fit a
  /// value, if any.
  ///
  /// With at least `splitEvents` blocks' events, runs of top-level blocks are walked by two
  /// threads, cut where no earlier block holds the next (`parts` forces a number of parts).
  static func append(
    _ rules: [CompiledRule], endpointIndex: UInt32,
    to blocks: inout [AddressBlock], values: inout [vigil_policy_value], parts: Int? = nil
  ) -> Overflow? {
    let walk = Walk(rules, endpointIndex: endpointIndex)
    let runs = walk.runs(parts ?? (walk.eventCount >= splitEvents ? 2 : 1))
    guard runs.count > 1 else {
      return walk.run(runs[0], blocks: &blocks, values: &values)
    }
    let results = PartResults<
      (
        blocks: [AddressBlock], values: [vigil_policy_value], overflow: Overflow?
      )
    >(count: runs.count)
    DispatchQueue.concurrentPerform(iterations: runs.count) { part in
      var (partBlocks, partValues): ([AddressBlock], [vigil_policy_value]) = ([], [])
      let overflow = walk.run(runs[part], blocks: &partBlocks, values: &partValues)
      results.set(part, (partBlocks, partValues, overflow))
    }
    for part in runs.indices {
      let (partBlocks, partValues, overflow) = results.get(part)
      if let overflow { return overflow }
      let base = UInt32(values.count)
      blocks += partBlocks.lazy.map { block in
        var block = block
        if block.value != VIGIL_POLICY_NO_VALUE { block.value += base }
        return block
      }
      values += partValues
    }
    return nil
  }

  /// Events at which the walk is split between two threads.
  static let splitEvents = 8_192

  /// One endpoint direction's rules as the walk reads them, and their events in trie order.
  struct Walk: Sendable {
    private let rules: [CompiledRule]
    private let endpointIndex: UInt32
    private let table: RuleTable
    private var peerRule: [Int] = []
    private var peerFamily: [Int] = []
    private var events: [Event] = []

    var eventCount: Int { events.count }

    init(_ rules: [CompiledRule], endpointIndex: UInt32) {
      self.rules = rules
      self.endpointIndex = endpointIndex
      table = RuleTable(rules)
      events.reserveCapacity(rules.reduce(1) { $0 + $1.blockCount })
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
    }

    /// The events cut into at most `parts` runs of about equal length, each cut before an event
    /// that no earlier event's block holds (where the walk has no block open).
    func runs(_ parts: Int) -> [Range<Int>] {
      var cuts = [0]
      var index = 0
      var lastAddress: IPAddress?
      for part in 1..<max(parts, 1) {
        let target = events.count * part / parts
        while index < events.count {
          let prefix = events[index].prefix
          if index >= max(target, cuts.last! + 1), let last = lastAddress, last < prefix.address {
            cuts.append(index)
            break
          }
          lastAddress = max(lastAddress ?? prefix.lastAddress, prefix.lastAddress)
          index += 1
        }
      }
      cuts.append(events.count)
      return zip(cuts, cuts.dropFirst()).map { $0..<$1 }
    }

    /// Walks the events of `run` (starting with no block open), appending to `blocks` and
    /// `values`.
    func run(
      _ run: Range<Int>, blocks: inout [AddressBlock], values: inout [vigil_policy_value]
    ) -> Overflow? {
      values.reserveCapacity(values.count + run.count)
      blocks.reserveCapacity(blocks.count + run.count)
      var state = CoverState(rules: rules.count, peers: peerRule.count)
      var stack: [(prefix: IPPrefix, undoMark: Int)] = []
      var ranges: [vigil_port_range] = []
      var next = run.lowerBound
      while next < run.upperBound {
        let prefix = events[next].prefix
        while let top = stack.last, !top.prefix.nests(prefix) {
          state.undo(to: top.undoMark, peerRule: peerRule, peerFamily: peerFamily)
          stack.removeLast()
        }
        stack.append((prefix, state.undoCount))
        while next < run.upperBound, events[next].prefix == prefix {
          let peer = events[next].peer
          if peer >= 0 {
            state.set(
              peer, active: !events[next].stops, rule: peerRule[peer], family: peerFamily[peer])
          }
          next += 1
        }
        let covering = state.active(family(prefix))
        collect(covering, of: table, into: &ranges)
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
  }

  private static func family(_ prefix: IPPrefix) -> Int { prefix.isIPv4 ? 0 : 1 }

  private static func collect(
    _ covering: [Int], of table: RuleTable, into ranges: inout [vigil_port_range]
  ) {
    ranges.removeAll(keepingCapacity: true)
    for deny in [true, false] {
      for index in covering where table.deny[index] == deny {
        for position in table.rangeStarts[index]..<table.rangeStarts[index + 1] {
          let range = table.ranges[position]
          if !ranges.contains(where: { $0.covers(range) }) { ranges.append(range) }
        }
      }
    }
  }
}

/// Which peers are on, and per address family the rules with at least one peer on, in order.
private struct CoverState {
  private var peerOn: [Bool]
  /// Per family and rule (`family * rules + rule`), how many of the rule's peers are on.
  private var onCount: [Int32]
  private let rules: Int
  private var activeIPv4: [Int] = []
  private var activeIPv6: [Int] = []
  /// The peers flipped, for `undo`.
  private var undoLog: [Int] = []

  init(rules: Int, peers: Int) {
    self.rules = rules
    peerOn = Array(repeating: false, count: peers)
    onCount = Array(repeating: 0, count: 2 * rules)
  }

  /// The rules of `family` with a peer on, in order.
  func active(_ family: Int) -> [Int] { family == 0 ? activeIPv4 : activeIPv6 }

  /// A mark for `undo`: the changes so far.
  var undoCount: Int { undoLog.count }

  /// Turns a peer on or off, logging the change for `undo`.
  mutating func set(_ peer: Int, active on: Bool, rule: Int, family: Int) {
    guard peerOn[peer] != on else { return }
    flip(peer, rule: rule, family: family)
    undoLog.append(peer)
  }

  /// Reverts the changes logged since `mark`.
  mutating func undo(to mark: Int, peerRule: [Int], peerFamily: [Int]) {
    while undoLog.count > mark {
      let peer = undoLog.removeLast()
      flip(peer, rule: peerRule[peer], family: peerFamily[peer])
    }
  }

  private mutating func flip(_ peer: Int, rule: Int, family: Int) {
    peerOn[peer].toggle()
    let slot = family * rules + rule
    onCount[slot] += peerOn[peer] ? 1 : -1
    if peerOn[peer] && onCount[slot] == 1 {
      if family == 0 { activeIPv4.insertInOrder(rule) } else { activeIPv6.insertInOrder(rule) }
    } else if !peerOn[peer] && onCount[slot] == 0 {
      if family == 0 { activeIPv4.removeInOrder(rule) } else { activeIPv6.removeInOrder(rule) }
    }
  }
}

extension Array where Element == Int {
  /// Inserts `value` into this sorted array, keeping it sorted.
  fileprivate mutating func insertInOrder(_ value: Int) {
    if let last, last < value {
      append(value)
    } else {
      insert(value, at: partitioningIndex { $0 >= value })
    }
  }

  /// Removes `value`, which this sorted array holds.
  fileprivate mutating func removeInOrder(_ value: Int) {
    if last == value {
      removeLast()
    } else {
      remove(at: partitioningIndex { $0 >= value })
    }
  }

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
