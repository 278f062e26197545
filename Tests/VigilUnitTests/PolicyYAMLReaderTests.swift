import Foundation
import Testing

@testable import Policy

/// The fast reader's documents, or nil when it leaves the text to Yams.
private func fastDocuments(_ yaml: String) -> YAMLTree? {
  try? YAMLReader.documents(yaml)
}

/// A tree to write: what policy documents hold, before a style is chosen.
private indirect enum Shape {
  case scalar(String)
  case null
  case mapping([(String, Shape)])
  case sequence([Shape])
}

/// Random policy-like documents written in mixed YAML styles, all inside the fast reader's
/// subset.
private struct StyledWriter {
  var random: SeededRandom
  /// Spaces per indentation level of this document.
  var step = 2

  /// Texts that may be written plain anywhere.
  static let plainAnywhere = [
    "vigil/v1", "NetworkPolicy", "10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32", "TCP", "UDP",
    "80", "8000", "eth0", "web", "a b", "a#b", "größe", "-1", "x:y", "null", "~", "Ingress",
    "/sys/fs/cgroup/web.slice", "it's", "a\"b",
  ]
  /// Texts that may be written plain only outside flow collections.
  static let plainInBlock = ["::/0", "a,b", "x]", "y}", ":z", "?q"]
  /// Texts that must be quoted.
  static let quotedOnly = [
    "", " lead", "trail ", "a: b", "a #b", "#x", "[x]", "- x", "tab\there", "new\nline", "é\u{85}",
    "\\", "&a", "*b", "!t", "|", ">", "%", "@", "`", "'", "\"", "true", "---", "...",
  ]

  mutating func policy(rules: Int) -> Shape {
    let ruleShapes = (0..<rules).map { index -> Shape in
      var fields: [(String, Shape)] = [
        ("from", .sequence([.mapping([("ipBlock", ipBlock(index))])]))
      ]
      if random.chance(0.7) {
        fields.append(("ports", .sequence((0..<random.pick([0, 1, 2])).map { _ in port() })))
      }
      if random.chance(0.2) { fields.append(("note", .null)) }
      return .mapping(fields.shuffled(using: &random))
    }
    return .mapping([
      ("apiVersion", .scalar("vigil/v1")), ("kind", .scalar("NetworkPolicy")),
      ("metadata", .mapping([("name", scalar())])),
      (
        "spec",
        .mapping([
          ("endpoint", .mapping([("interface", .scalar("eth0")), ("netns", scalar())])),
          ("policyTypes", .sequence([.scalar("Ingress"), .scalar("Egress")])),
          ("ingress", .sequence(ruleShapes)),
          ("egress", random.chance(0.3) ? .null : .sequence([])),
        ])
      ),
    ])
  }

  private mutating func ipBlock(_ index: Int) -> Shape {
    var fields: [(String, Shape)] = [("cidr", .scalar("10.\(index % 256).0.0/16"))]
    if random.chance(0.5) {
      fields.append(("except", .sequence([.scalar("10.\(index % 256).1.0/24"), scalar()])))
    }
    return .mapping(fields)
  }

  private mutating func port() -> Shape {
    .mapping([("protocol", scalar()), ("port", .scalar("\(random.pick([80, 443, 8000]))"))])
  }

  private mutating func scalar() -> Shape {
    .scalar(random.pick(Self.plainAnywhere + Self.plainInBlock + Self.quotedOnly))
  }

  /// `documents` as one text: separators, empty documents, `...` and comments between them.
  mutating func stream(_ documents: [Shape]) -> String {
    var text = random.chance(0.3) ? "# policies\n" : ""
    for (index, document) in documents.enumerated() {
      if index > 0 || random.chance(0.3) {
        if index > 0 && random.chance(0.2) { text += "...\n" }
        text += random.chance(0.3) ? "--- # next\n" : "---\n"
        if random.chance(0.1) { text += "---\n" }  // an empty document
      }
      step = random.pick([1, 2, 2, 4])
      text += random.chance(0.15) ? flow(document, indent: 0) + "\n" : block(document, indent: 0)
      if random.chance(0.3) { text += "\n# trailing comment\n\n" }
    }
    return text
  }

  /// A node on lines of its own at column `indent`, ending with a line break.
  private mutating func block(_ shape: Shape, indent: Int) -> String {
    let pad = String(repeating: " ", count: indent)
    switch shape {
    case .scalar, .null:
      return pad + inline(shape, flow: false) + comment() + "\n"
    case .mapping(let fields):
      if fields.isEmpty || random.chance(0.1) { return pad + flow(shape, indent: indent) + "\n" }
      return fields.enumerated().map { index, field in
        (index > 0 && random.chance(0.1) ? "\n" : "") + pad + key(field.0)
          + value(after: field.1, indent: indent)
      }.joined()
    case .sequence(let items):
      if items.isEmpty || random.chance(0.1) { return pad + flow(shape, indent: indent) + "\n" }
      return entries(items, indent: indent)
    }
  }

  /// The `-` entries of a block sequence at column `indent`.
  private mutating func entries(_ items: [Shape], indent: Int) -> String {
    let pad = String(repeating: " ", count: indent)
    return items.map { item in
      let blank = random.chance(0.05) ? pad + "# between items\n" : ""
      switch item {
      case .mapping(let fields) where !fields.isEmpty && random.chance(0.7):
        // Compact: the mapping's first key on the entry's line.
        let inner = block(item, indent: indent + 2)
        return blank + pad + "- " + inner.dropFirst(indent + 2)
      case .scalar, .null:
        return blank + pad + "-" + (item.isNull ? "" : " " + inline(item, flow: false))
          + comment() + "\n"
      default:
        return blank + pad + "-\n" + block(item, indent: indent + step)
      }
    }.joined()
  }

  /// `: value` after a key at column `indent`: on the key's line, or below it.
  private mutating func value(after shape: Shape, indent: Int) -> String {
    switch shape {
    case .scalar, .null:
      return ":" + (shape.isNull ? "" : " " + inline(shape, flow: false)) + comment() + "\n"
    case .sequence(let items) where !items.isEmpty && random.chance(0.3):
      // Indentless: the entries at the key's column.
      return ":" + comment() + "\n" + entries(items, indent: indent)
    default:
      if random.chance(0.3) { return ": " + flow(shape, indent: indent) + comment() + "\n" }
      return ":" + comment() + "\n" + block(shape, indent: indent + step)
    }
  }

  /// A flow collection (or scalar), sometimes spread over lines indented past `indent`.
  private mutating func flow(_ shape: Shape, indent: Int) -> String {
    let separator =
      random.chance(0.15) ? ",\n" + String(repeating: " ", count: indent + step + 1) : ", "
    switch shape {
    case .scalar, .null:
      return inline(shape, flow: true)
    case .mapping(let fields):
      let entries = fields.map { key, value in
        self.key(key) + ": " + flow(value, indent: indent)
      }
      return "{" + entries.joined(separator: separator) + (random.chance(0.1) ? ",}" : "}")
    case .sequence(let items):
      let entries = items.map { flow($0, indent: indent) }
      return "[" + entries.joined(separator: separator) + "]"
    }
  }

  private mutating func key(_ name: String) -> String {
    random.chance(0.1) ? "\"\(name)\"" : random.chance(0.05) ? "'\(name)'" : name
  }

  /// A scalar on one line; null values are written as `null` or `~` inside flow collections.
  private mutating func inline(_ shape: Shape, flow: Bool) -> String {
    guard case .scalar(let text) = shape else { return flow ? random.pick(["null", "~"]) : "" }
    let plain =
      Self.plainAnywhere.contains(text) || (!flow && Self.plainInBlock.contains(text))
    if plain && random.chance(0.7) { return text }
    if !text.contains("\n") && !text.contains("\t") && !text.contains("\u{85}")
      && random.chance(0.4)
    {
      return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
    var quoted = "\""
    for character in text.unicodeScalars {
      switch character {
      case "\"": quoted += "\\\""
      case "\\": quoted += "\\\\"
      case "\n": quoted += random.pick(["\\n", "\\x0a", "\\u000A"])
      case "\t": quoted += random.pick(["\\t", "\\U00000009"])
      case "\u{85}": quoted += "\\N"
      case "/": quoted += random.pick(["/", "\\/"])
      case "é": quoted += random.pick(["é", "\\u00e9"])
      default: quoted.unicodeScalars.append(character)
      }
    }
    return quoted + "\""
  }

  private mutating func comment() -> String {
    random.chance(0.1) ? random.pick([" # note", "  #", " #: x, [y]"]) : ""
  }
}

extension Shape {
  fileprivate var isNull: Bool {
    if case .null = self { return true }
    return false
  }
}

@Suite struct PolicyYAMLReaderTests {
  @Test func readsWhatYamsReadsInEveryStyle() throws {
    let seed =
      ProcessInfo.processInfo.environment["YAML_SEED"].flatMap { UInt64($0) }
      ?? UInt64.random(in: 0...UInt64.max)
    var writer = StyledWriter(random: SeededRandom(state: seed))
    for round in 0..<300 {
      let documents = (0..<writer.random.pick([1, 1, 2, 3])).map { _ in
        writer.policy(rules: writer.random.pick([0, 1, 2, 5]))
      }
      let yaml = writer.stream(documents)
      let expected: YAMLTree
      do { expected = try YAMLTree.yamsDocuments(yaml: yaml) } catch {
        Issue.record("seed \(seed) round \(round): Yams refused: \(error)\n\(yaml)")
        return
      }
      guard let fast = fastDocuments(yaml) else {
        Issue.record("seed \(seed) round \(round): the fast reader refused\n\(yaml)")
        return
      }
      guard fast == expected else {
        let first = fast.nodes.indices.first { index in
          index >= expected.nodes.count || !fast.sameNode(index, as: expected, index)
        }.map { index in (index, fast.text(index), fast.nodes[index]) }
        Issue.record(
          """
          seed \(seed) (rerun with YAML_SEED=\(seed)) round \(round): documents at \
          \(fast.roots), Yams \(expected.roots); first different node:
          \(String(describing: first))
          \(yaml)
          """)
        return
      }
    }
  }

  @Test(arguments: [
    "", "# only a comment\n", "---", "---\n---\n", "a: b\n---\n", "a: b\n...\n---\nc: d\n",
    "--- # c\na: [1, 2]\n...\n", "- a\n-\n- - b\n  - c\n", "a:\n- 1\n- 2\nb: {}\n",
    "k: [a, {b: c}, [d]]\n", "? # not a key\n", "x:\n  y:\n    z: 1\n  w: 2\n", "'a': \"b\"\n",
    "{\"a\":1, \"b\":[true,null]}\n", "a: [b,\nc]\n", "- a: 1\n  b: 2\n- c\n",
  ])
  func agreesWithYamsOnSmallCases(yaml: String) throws {
    let expected = try YAMLTree.yamsDocuments(yaml: yaml)
    if let fast = fastDocuments(yaml) { #expect(fast == expected, "\(yaml)") }
  }

  @Test(arguments: [
    ("anchor", "ports: &web [{port: 80}]\n"), ("alias", "a: 1\nb: *a\n"), ("tag", "a: !!str 1\n"),
    ("literal block scalar", "a: |\n  text\n"), ("folded block scalar", "a: >\n  text\n"),
    ("complex key", "? a\n: b\n"), ("directive", "%YAML 1.1\n---\na: b\n"),
    ("tab indentation", "a:\n\tb: c\n"), ("carriage return", "a: b\r\n"),
    ("byte order mark", "\u{FEFF}a: b\n"), ("plain scalar over two lines", "a: b\n  c\n"),
    ("quoted scalar over two lines", "a: 'b\n  c'\n"), ("flow pair", "[a: b]\n"),
    ("flow key without value", "{a, b: c}\n"), ("content after ...", "a: 1\n...\nb: 2\n"),
    ("syntax error", "a: [b\n"), ("bad indentation", "a:\n    b: 1\n  c: 2\n"),
  ])
  func leavesTheRestToYams(what: String, yaml: String) {
    #expect(fastDocuments(yaml) == nil, "\(what)")
  }

  @Test func yamsReadsWhatTheFastReaderLeaves() throws {
    let yaml = """
      apiVersion: vigil/v1
      kind: NetworkPolicy
      metadata: {name: !!str web}
      spec:
        endpoint: {interface: eth0}
        ingress:
          - ports: &web [{port: 80}]
          - from:
              - ipBlock:
                  cidr: >-
                    10.0.0.0/8
            ports: *web
      """
    #expect(fastDocuments(yaml) == nil)
    let documents = try PolicyDocument.parse(yaml: yaml, source: "web.yaml")
    #expect(documents[0].name == "web")
    #expect(documents[0].ingress.map(\.ports) == [[PortSpec(port: 80)], [PortSpec(port: 80)]])
    #expect(documents[0].ingress[1].peers == [IPBlock(cidr: policyPrefix("10.0.0.0/8"))])
  }

  @Test(arguments: [
    ("a: b\nc: 'd\n", 3, 1), ("a: b\n---\nc: [d\n", 4, 1), ("a:\n  - b\n  c: d\n", 3, 3),
    ("apiVersion: vigil/v1\nkind: \"Net\\qwork\"\n", 2, 11),
  ])
  func syntaxErrorsKeepYamsPositions(yaml: String, line: Int, column: Int) {
    #expect(fastDocuments(yaml) == nil)
    #expect(
      performing: { try PolicyDocument.parse(yaml: yaml, source: "bad.yaml") },
      throws: { error in
        let error = error as! PolicyError
        return error.line == line && error.column == column
          && "\(error)".hasPrefix("bad.yaml:\(line):\(column): malformed YAML: ")
      })
  }

  @Test func positionsCountCharacters() throws {
    let yaml = "a: größe # ü\nb: [ä, c]\n"
    let documents = try #require(fastDocuments(yaml))
    #expect(documents == (try YAMLTree.yamsDocuments(yaml: yaml)))
    let b = try #require(documents.value(documents.roots[0], key: "b"))
    #expect([documents.nodes[b].line, documents.nodes[b].column] == [2, 4])
  }

  /// Characters are checked eight bytes at a time: a refused one is found at any offset.
  @Test func refusesControlCharactersAnywhere() throws {
    for offset in 0..<17 {
      let prefix = String(repeating: "x", count: offset)
      for refused in ["\u{1}", "\t", "\r", "\u{7F}", "\u{85}", "\u{2028}", "\u{FEFF}"] {
        let yaml = "key: '\(prefix)\(refused)' # padding padding\n"
        #expect(fastDocuments(yaml) == nil, "\(offset) \(refused.debugDescription)")
      }
      for allowed in ["é", "🙂", "\u{A0}"] {
        let yaml = "key: '\(prefix)\(allowed)' # padding padding\n"
        let fast = try #require(fastDocuments(yaml), "\(offset) \(allowed)")
        #expect(fast == (try YAMLTree.yamsDocuments(yaml: yaml)))
      }
    }
  }

  /// A second thread may read a block sequence's later items: from whatever line it starts at,
  /// the tree is the one a single reader makes (the items are taken, or dropped when the main
  /// reader does not reach them as items of a sequence so indented).
  @Test func aSecondReaderStartingAtAnyLineGivesTheSameTree() throws {
    let seed =
      ProcessInfo.processInfo.environment["YAML_SEED"].flatMap { UInt64($0) }
      ?? UInt64.random(in: 0...UInt64.max)
    var writer = StyledWriter(random: SeededRandom(state: seed))
    var taken = 0
    for round in 0..<60 {
      let documents = (0..<writer.random.pick([1, 2])).map { _ in
        writer.policy(rules: writer.random.pick([1, 2, 5]))
      }
      let yaml = writer.stream(documents)
      guard let alone = try? YAMLReader.read(yaml, lookaheadFrom: -1) else { continue }
      #expect(!alone.tookLookahead)
      let lineBreaks = yaml.utf8.indices.filter { yaml.utf8[$0] == UInt8(ascii: "\n") }
      for lineBreak in lineBreaks {
        let from = yaml.utf8.distance(from: yaml.utf8.startIndex, to: lineBreak)
        let both = try #require(try? YAMLReader.read(yaml, lookaheadFrom: from))
        if both.tookLookahead { taken += 1 }
        guard both.tree == alone.tree else {
          Issue.record(
            "seed \(seed) (rerun with YAML_SEED=\(seed)) round \(round), second reader from \(from):\n\(yaml)"
          )
          return
        }
      }
    }
    #expect(taken > 100, "the second reader's items were taken only \(taken) times")
  }

  /// Long texts are read by two threads: a 10k-rule policy as the benchmark writes it.
  @Test func aLongPolicyIsReadByTwoThreads() throws {
    var yaml = "kind: NetworkPolicy\nspec:\n  ingress:\n"
    for index in 0..<10_000 {
      yaml += "    - from: [{ipBlock: {cidr: 10.\(index / 256).\(index % 256).0/24}}]\n"
      yaml += "      ports: [{protocol: TCP, port: 80}, {port: 8000, endPort: 8100}] # \(index)\n"
    }
    yaml += "  egress: []\n"
    let both = try YAMLReader.read(yaml)
    #expect(both.tookLookahead)
    #expect(both.tree == (try YAMLReader.read(yaml, lookaheadFrom: -1).tree))
    #expect(both.tree == (try YAMLTree.yamsDocuments(yaml: yaml)))
  }

  /// Indentless, nested and compact sequences: a second reader from any line gives Yams's tree.
  @Test func aSecondReaderInNestedSequences() throws {
    let yaml = "a:\n- b\n- - c\n  - d\n-\n  - [e,\n    f]\nx:\n  - g: 1\n    h: [2]\n  - i\n"
    let expected = try YAMLTree.yamsDocuments(yaml: yaml)
    for from in 0..<yaml.utf8.count {
      #expect(try YAMLReader.read(yaml, lookaheadFrom: from).tree == expected, "from \(from)")
    }
  }
}
