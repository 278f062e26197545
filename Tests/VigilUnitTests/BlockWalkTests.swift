import CVigilABI
import Testing

@testable import Policy

/// The block walk split between threads gives what one walk gives.
@Suite struct BlockWalkTests {
  /// Rules over disjoint and nested blocks (so there are places to cut and places not to),
  /// with excepts, IPv6 blocks, and several port ranges. (A rule for every address leaves no
  /// place to cut: the walk is then not split.)
  private func rules(_ count: Int, random: inout SeededRandom) -> [CompiledRule] {
    (0..<count).map { index in
      let top = UInt32(10 << 24 | Int.random(in: 0..<64, using: &random) << 16)
      let peers = (0..<random.pick([1, 1, 1, 2])).map { _ -> IPBlock in
        if random.chance(0.05) {
          return IPBlock(cidr: IPPrefix(address: IPAddress("2001:db8::")!, length: 32))
        }
        let length = random.pick([16, 24, 24, 25, 32])
        let bits = top | UInt32.random(in: 0...0xffff, using: &random)
        let cidr = IPPrefix(address: IPAddress(ipv4: bits), length: length)
        let first = UInt32(truncatingIfNeeded: cidr.address.low)
        let except =
          length < 32 && random.chance(0.4)
          ? [IPPrefix(address: IPAddress(ipv4: first | 1), length: 32)] : []
        return IPBlock(cidr: cidr, except: except)
      }
      let ports = (0..<random.pick([0, 1, 2])).map { _ in
        PortSpec(random.pick([.tcp, .udp]), port: random.pick([80, 443, 8000]), endPort: nil)
      }
      return CompiledRule(
        counter: UInt32(index), deny: random.chance(0.2), peers: peers, ports: ports)
    }
  }

  @Test(arguments: [1, 2, 3])
  func splitWalksMatchOneWalk(seed: UInt64) {
    var random = SeededRandom(state: seed)
    let rules = rules(2_000, random: &random)
    #expect(BlockWalk.Walk(rules, endpointIndex: 2).runs(3).count > 1, "the rules have cuts")
    var (blocks, values): ([AddressBlock], [vigil_policy_value]) = ([], [])
    // After another direction's blocks and values, as the compiler appends them.
    blocks.append(AddressBlock(endpointIndex: 1, prefix: .anyIPv4, value: 0))
    values.append(vigil_policy_value(ranges: []))
    let expectedOverflow = BlockWalk.append(
      rules, endpointIndex: 2, to: &blocks, values: &values, parts: 1)
    for parts in [2, 3, 5] {
      var (split, splitValues): ([AddressBlock], [vigil_policy_value]) = (
        [blocks[0]], [values[0]]
      )
      let overflow = BlockWalk.append(
        rules, endpointIndex: 2, to: &split, values: &splitValues, parts: parts)
      #expect(overflow?.block == expectedOverflow?.block)
      #expect(split.count == blocks.count)
      #expect(
        zip(split, blocks).allSatisfy {
          $0.endpointIndex == $1.endpointIndex && $0.prefix == $1.prefix && $0.value == $1.value
        }, "\(parts) parts")
      #expect(splitValues.count == values.count)
      #expect(zip(splitValues, values).allSatisfy { sameBytes($0, $1) }, "\(parts) parts")
    }
  }
}
