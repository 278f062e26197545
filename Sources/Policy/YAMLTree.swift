import Yams

/// The documents of a YAML text as policy reading sees them, in one array: scalars as text,
/// mappings as ordered pairs (repeated keys kept), sequences; each node with the line and
/// column (from 1, in characters) it starts at. A collection's children follow it in order.
///
/// `YAMLReader` builds it from the common subset of YAML; Yams builds it from everything else.
final class YAMLTree: Sendable {
  /// What a node is.
  enum Kind: UInt8, Sendable {
    /// A plain scalar: the only kind that can be null.
    case plain
    /// A quoted (or block) scalar.
    case quoted
    case mapping
    case sequence
  }

  /// One node; its subtree ends before `end`.
  struct Node: Sendable {
    var kind: Kind
    /// A scalar's text; empty for a collection.
    var text: String
    /// A mapping's pairs or a sequence's items.
    var count: Int32
    var end: Int32
    var line: Int32
    var column: Int32
  }

  let nodes: [Node]
  /// Each document's root node, in order.
  let roots: [Int]

  init(nodes: [Node], roots: [Int]) {
    self.nodes = nodes
    self.roots = roots
  }

  /// A plain `~`, `null` or empty scalar.
  func isNull(_ index: Int) -> Bool {
    let node = nodes[index]
    guard node.kind == .plain else { return false }
    switch node.text {
    case "", "~", "null", "Null", "NULL": return true
    default: return false
    }
  }

  /// The text of a scalar; nil for a collection.
  func text(_ index: Int) -> String? {
    let node = nodes[index]
    return node.kind == .plain || node.kind == .quoted ? node.text : nil
  }

  /// The children of a collection: a mapping's keys and values alternate.
  func children(_ index: Int) -> Children {
    let node = nodes[index]
    return Children(
      tree: self, following: index + 1, remaining: Int(node.count) * (node.kind == .mapping ? 2 : 1)
    )
  }

  /// The value under the scalar key `key` of a mapping (the first, when repeated).
  func value(_ index: Int, key: String) -> Int? {
    guard nodes[index].kind == .mapping else { return nil }
    var children = children(index)
    while let keyIndex = children.next(), let valueIndex = children.next() {
      if text(keyIndex) == key { return valueIndex }
    }
    return nil
  }

  /// Child indices in order.
  struct Children: Sequence, IteratorProtocol {
    let tree: YAMLTree
    var following: Int
    var remaining: Int

    mutating func next() -> Int? {
      guard remaining > 0 else { return nil }
      remaining -= 1
      defer { following = Int(tree.nodes[following].end) }
      return following
    }
  }

  /// Adds nodes in document order; collections are opened, filled and closed.
  struct Builder {
    private(set) var nodes: [Node] = []
    private var roots: [Int] = []

    init(capacity: Int = 0) { nodes.reserveCapacity(capacity) }

    var count: Int { nodes.count }

    mutating func scalar(_ text: String, plain: Bool, line: Int, column: Int) {
      nodes.append(
        Node(
          kind: plain ? .plain : .quoted, text: text, count: 0, end: Int32(nodes.count + 1),
          line: Int32(line), column: Int32(column)))
    }

    /// Opens a collection; returns its index for `close`.
    mutating func open(_ kind: Kind, line: Int, column: Int) -> Int {
      nodes.append(
        Node(kind: kind, text: "", count: 0, end: 0, line: Int32(line), column: Int32(column)))
      return nodes.count - 1
    }

    /// Opens a mapping in front of the scalar at `index`, the last node, which is its first key.
    mutating func openMapping(before index: Int) {
      let key = nodes[index]
      nodes.insert(
        Node(kind: .mapping, text: "", count: 0, end: 0, line: key.line, column: key.column),
        at: index)
      nodes[index + 1].end = Int32(index + 2)
    }

    /// Closes the collection at `index` with `count` pairs or items.
    mutating func close(_ index: Int, count: Int) {
      nodes[index].count = Int32(count)
      nodes[index].end = Int32(nodes.count)
    }

    mutating func addRoot(_ index: Int) { roots.append(index) }

    func finish() -> YAMLTree { YAMLTree(nodes: nodes, roots: roots) }
  }
}

extension YAMLTree: Equatable {
  /// Same documents, nodes and positions; the position of an empty plain scalar (a missing
  /// value) is not compared, as Yams places it at whatever token follows.
  static func == (left: YAMLTree, right: YAMLTree) -> Bool {
    left.roots == right.roots && left.nodes.count == right.nodes.count
      && zip(left.nodes, right.nodes).allSatisfy { a, b in
        a.kind == b.kind && a.text == b.text && a.count == b.count && a.end == b.end
          && (a.kind == .plain && a.text.isEmpty || (a.line == b.line && a.column == b.column))
      }
  }
}

extension YAMLTree {
  /// The documents of `yaml` read by the fast reader, or by Yams when it uses YAML beyond the
  /// reader's subset or is malformed (so syntax errors are Yams's, with line and column).
  static func documents(yaml: String) throws -> YAMLTree {
    var text = yaml
    let fast = text.withUTF8 { bytes -> YAMLTree? in
      guard var reader = try? YAMLReader(bytes: bytes) else { return nil }
      return try? reader.documents()
    }
    if let fast { return fast }
    return try yamsDocuments(yaml: yaml)
  }

  /// The documents of `yaml` composed by Yams.
  static func yamsDocuments(yaml: String) throws -> YAMLTree {
    // No tag resolution: fields are read as text, and resolving every scalar by regex
    // dominated parsing (10k rules: ~0.5 s).
    let parser = try Parser(yaml: yaml, resolver: .basic)
    var builder = Builder()
    while let root = try parser.nextRoot() {
      builder.addRoot(builder.count)
      builder.add(root)
    }
    return builder.finish()
  }
}

extension YAMLTree.Builder {
  /// Adds a node composed by Yams, and its subtree.
  fileprivate mutating func add(_ node: Yams.Node) {
    let (line, column) = (node.mark?.line ?? 0, node.mark?.column ?? 0)
    switch node {
    case .scalar(let scalar):
      self.scalar(scalar.string, plain: scalar.style == .plain, line: line, column: column)
    case .mapping(let mapping):
      let index = open(.mapping, line: line, column: column)
      for (key, value) in mapping {
        add(key)
        add(value)
      }
      close(index, count: mapping.count)
    case .sequence(let sequence):
      let index = open(.sequence, line: line, column: column)
      for item in sequence { add(item) }
      close(index, count: sequence.count)
    }
  }
}
