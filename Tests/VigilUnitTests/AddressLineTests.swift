import CVigilABI
import Testing

@testable import Policy

/// The address lines against the longest-prefix match they flatten, on random nested blocks.
@Suite struct AddressLineTests {
  /// Random blocks of two endpoint directions: IPv4 and IPv6, nested and touching, some empty,
  /// some reaching the last address.
  private func randomBlocks(_ random: inout SeededRandom) -> (
    blocks: [AddressBlock], values: [vigil_policy_value]
  ) {
    var blocks: [AddressBlock] = []
    var values: [vigil_policy_value] = []
    for endpointIndex: UInt32 in [1, 6] {
      var prefixes: Set<IPPrefix> = []
      let bases: [IPAddress] = [
        IPAddress(ipv4: 0x0a00_0000), IPAddress(ipv4: 0xffff_ff00), IPAddress(high: 0, low: 0),
        IPAddress(high: 0x2001_0db8_0000_0000, low: 0), IPAddress(high: .max, low: .max),
      ]
      for _ in 0..<Int.random(in: 0...12, using: &random) {
        let base = random.pick(bases)
        let length =
          base.isIPv4
          ? Int.random(in: 0...32, using: &random) : Int.random(in: 0...128, using: &random)
        let jitter = IPAddress(
          high: base.isIPv4 ? 0 : base.high ^ (random.chance(0.5) ? 0 : random.next() >> 40),
          low: base.isIPv4 ? base.low ^ UInt64(random.next() & 0xffff) : random.next())
        let mapped = base.isIPv4 ? 96 + length : length
        prefixes.insert(IPPrefix(address: jitter.masked(to: mapped), length: length))
      }
      if random.chance(0.3) { prefixes.insert(.anyIPv6) }
      for prefix in prefixes.sorted() {
        var value = VIGIL_POLICY_NO_VALUE
        if !random.chance(0.3) {
          value = UInt32(values.count)
          values.append(
            vigil_policy_value(ranges: [
              vigil_port_range(
                protocol: 6, action: VIGIL_ACTION_ALLOW, counter: UInt32(blocks.count),
                ports: 1...2)
            ]))
        }
        blocks.append(AddressBlock(endpointIndex: endpointIndex, prefix: prefix, value: value))
      }
    }
    return (blocks, values)
  }

  @Test func lineFindsTheLongestBlock() {
    for seed in 0..<500 as Range<UInt64> {
      var random = SeededRandom(state: seed)
      let (blocks, values) = randomBlocks(&random)
      let lines = AddressLines(blocks: blocks, values: values)
      var probes: [IPAddress] = [IPAddress(high: 0, low: 0), IPAddress(high: .max, low: .max)]
      for block in blocks {
        probes += [block.prefix.address, block.prefix.lastAddress]
        probes += [block.prefix.lastAddress.successor].compactMap { $0 }
        if block.prefix.address.low > 0 {
          probes.append(
            IPAddress(high: block.prefix.address.high, low: block.prefix.address.low - 1))
        }
      }
      for endpointIndex: UInt32 in [1, 6] {
        for address in probes {
          let longest = blocks.indices
            .filter {
              blocks[$0].endpointIndex == endpointIndex && blocks[$0].prefix.nests(address)
            }
            .max { blocks[$0].prefix.mappedLength < blocks[$1].prefix.mappedLength }
          let expected = longest.map { blocks[$0].value } ?? VIGIL_POLICY_NO_VALUE
          #expect(
            lines.valueIndex(of: address, endpointIndex: endpointIndex) == expected,
            "seed \(seed), endpoint \(endpointIndex), \(address)")
        }
      }
      // Boundaries are strictly increasing and never repeat a value.
      for span in lines.spans.values where span.count > 0 {
        let line = lines.boundaries[Int(span.first)..<Int(span.first + span.count)]
        #expect(
          zip(line, line.dropFirst()).allSatisfy { $0.start < $1.start && $0.value != $1.value })
        #expect(line.first!.value != VIGIL_POLICY_NO_VALUE)
      }
    }
  }
}

extension IPPrefix {
  /// Whether the address is in the block, by bits as the datapath matches.
  fileprivate func nests(_ address: IPAddress) -> Bool {
    address.masked(to: mappedLength) == self.address
  }
}
