import Foundation
import Testing

@testable import Policy

/// Random rules, mostly of the common shape, with the mistakes and variations the general
/// reader must handle: nulls, unknown and repeated keys, quoted values, IPv6, host bits, bad
/// ports and protocols.
private struct RuleWriter {
  var random: SeededRandom

  mutating func rule() -> String {
    var fields: [String] = []
    if random.chance(0.85) {
      fields.append(
        random.pick(["from", "from", "from", "to", "\"from\"", "fro"]) + ": " + peers())
    }
    if random.chance(0.8) { fields.append("ports: " + ports()) }
    if random.chance(0.05) { fields.append(random.pick(["ports: []", "from: []", "x: 1"])) }
    fields.shuffle(using: &random)
    return random.chance(0.05)
      ? random.pick(["~", "[]", "x"]) : "{" + fields.joined(separator: ", ") + "}"
  }

  private mutating func peers() -> String {
    guard random.chance(0.9) else { return random.pick(["~", "[]", "{}", "x"]) }
    let blocks = (0..<random.pick([1, 1, 2])).map { _ -> String in
      guard random.chance(0.95) else {
        return random.pick([
          "{ipBlock: ~}", "{ipBlock: {}}", "{ipBlock: {cidr: 10.0.0.0/8}, x: 1}", "~",
        ])
      }
      var fields = ["cidr: " + cidr()]
      if random.chance(0.5) {
        fields.append("except: " + (random.chance(0.9) ? "[\(cidr())]" : random.pick(["~", "[]"])))
      }
      if random.chance(0.03) { fields.append(random.pick(["cidr: 10.0.0.0/8", "y: 2"])) }
      fields.shuffle(using: &random)
      return "{ipBlock: {" + fields.joined(separator: ", ") + "}}"
    }
    return "[" + blocks.joined(separator: ", ") + "]"
  }

  private mutating func cidr() -> String {
    random.pick([
      "10.0.0.0/8", "10.1.0.0/16", "10.1.2.128/25", "10.0.0.1/8", "2001:db8::/32", "'10.0.0.0/8'",
      "\"10.1.0.0/16\"", "010.0.0.0/8", "10.0.0.0/33", "10.0.0.0", "~", "null", "[10.0.0.0/8]",
    ])
  }

  private mutating func ports() -> String {
    guard random.chance(0.9) else { return random.pick(["~", "[]", "{}", "80"]) }
    let entries = (0..<random.pick([1, 1, 2, 3])).map { _ -> String in
      var fields: [String] = []
      if random.chance(0.7) {
        fields.append(
          "protocol: " + random.pick(["TCP", "UDP", "SCTP", "ICMP", "tcp", "'TCP'", "GRE", "~"]))
      }
      if random.chance(0.8) { fields.append("port: " + number()) }
      if random.chance(0.3) { fields.append("endPort: " + number()) }
      if random.chance(0.03) { fields.append(random.pick(["port: 1", "prot: 80"])) }
      fields.shuffle(using: &random)
      return random.chance(0.97) ? "{" + fields.joined(separator: ", ") + "}" : "~"
    }
    return "[" + entries.joined(separator: ", ") + "]"
  }

  private mutating func number() -> String {
    random.pick([
      "80", "443", "8000", "8100", "0", "65535", "65536", "+80", "080", "http", "'53'", "~",
    ])
  }
}

@Suite struct PolicyCommonShapeTests {
  /// A rule the fast path reads is the rule the general reader gives; anything else is left to
  /// the general reader, which reads it or gives the error.
  @Test func readsWhatTheGeneralReaderReads() throws {
    let seed =
      ProcessInfo.processInfo.environment["RULE_SEED"].flatMap { UInt64($0) }
      ?? UInt64.random(in: 0...UInt64.max)
    var writer = RuleWriter(random: SeededRandom(state: seed))
    var read = 0
    for _ in 0..<3000 {
      let yaml = writer.rule()
      let tree = try YAMLTree.documents(yaml: yaml)
      let root = tree.roots[0]
      for direction in PolicyDirection.allCases {
        guard let fast = PolicyRule.commonShape(in: tree, at: root, direction: direction) else {
          continue
        }
        read += 1
        let general = Result { () throws(PolicyError) in
          try PolicyRule(reading: PolicyNode(tree: tree, index: root), direction: direction)
        }
        #expect(
          general == .success(fast), "seed \(seed) (rerun with RULE_SEED=\(seed)): \(yaml)")
      }
    }
    print("policy common-shape test: seed \(seed), \(read) of 6000 readings by the fast path")
    #expect(read > 300, "seed \(seed): the fast path read \(read) rules")
  }

  /// The byte reader of protocol names knows every protocol, spelled exactly.
  @Test func readsEveryProtocolName() {
    for name in IPProtocolName.allCases {
      var spelled = name.rawValue
      #expect(spelled.withUTF8 { IPProtocolName(utf8: $0) } == name)
      var lower = name.rawValue.lowercased()
      #expect(lower.withUTF8 { IPProtocolName(utf8: $0) } == nil)
    }
  }
}
