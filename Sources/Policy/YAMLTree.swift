import Glibc
import Yams

/// The documents of a YAML text as policy reading sees them, in one array: scalars as text,
/// mappings as ordered pairs (repeated keys kept), sequences; each node with the line and
/// column (from 1, in characters) it starts at. A collection's children follow it in order.
///
/// Scalars hold no `String`: their text is a range of one byte buffer (the source's UTF-8, then
/// the texts the builder decoded: quoted scalars with escapes, everything Yams composed), so
/// reading compares and converts bytes and makes strings only for the values kept.
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

  /// One node, in 16 bytes (a 10k-rule policy has ~260k): a scalar's subtree is itself, and a
  /// collection has no text.
  struct Node: Sendable {
    /// The kind in bits 0-1, whether the scalar is null in bit 2, its text's length above.
    private var bits: UInt32
    /// A scalar's text start in the tree's texts; where a collection's subtree ends.
    fileprivate var offset: Int32
    var line: Int32
    var column: Int32

    /// A scalar whose text is `text` of the tree's texts.
    fileprivate init(scalar kind: Kind, isNull: Bool, text: Range<Int>, line: Int, column: Int) {
      bits = UInt32(kind.rawValue) | (isNull ? 4 : 0) | UInt32(text.count) << 3
      offset = Int32(text.lowerBound)
      self.line = Int32(line)
      self.column = Int32(column)
    }

    /// A collection; its end is set when it is closed.
    fileprivate init(collection kind: Kind, line: Int32, column: Int32) {
      bits = UInt32(kind.rawValue)
      offset = 0
      self.line = line
      self.column = column
    }

    var kind: Kind { Kind(rawValue: UInt8(bits & 3))! }
    /// A plain `~`, `null` or empty scalar.
    var isNull: Bool { bits & 4 != 0 }
    var isScalar: Bool { bits & 2 == 0 }
    /// A scalar's text length; 0 for a collection.
    var textCount: Int { Int(bits >> 3) }
    var textStart: Int { isScalar ? Int(offset) : 0 }
  }

  let nodes: [Node]
  /// Each document's root node, in order.
  let roots: [Int]
  /// The texts of the scalars.
  private let texts: [UInt8]

  fileprivate init(nodes: [Node], roots: [Int], texts: [UInt8]) {
    self.nodes = nodes
    self.roots = roots
    self.texts = texts
  }

  /// The UTF-8 text of a scalar (empty for a collection), passed to `body`.
  func withText<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
    let node = nodes[index]
    return texts.withUnsafeBufferPointer {
      body(UnsafeBufferPointer(start: $0.baseAddress! + node.textStart, count: node.textCount))
    }
  }

  /// Where the subtree of node `index` ends.
  func end(_ index: Int) -> Int {
    let node = nodes[index]
    return node.isScalar ? index + 1 : Int(node.offset)
  }

  /// Whether node `index` is a scalar whose text is `text`.
  func hasText(_ index: Int, _ text: StaticString) -> Bool {
    let node = nodes[index]
    guard node.isScalar, node.textCount == text.utf8CodeUnitCount
    else { return false }
    return withText(index) { $0.sameBytes(text.utf8Buffer) }
  }

  /// A plain `~`, `null` or empty scalar.
  func isNull(_ index: Int) -> Bool { nodes[index].isNull }

  /// The text of a scalar; nil for a collection.
  func text(_ index: Int) -> String? {
    let node = nodes[index]
    guard node.kind == .plain || node.kind == .quoted else { return nil }
    return withText(index) { String(decoding: $0, as: UTF8.self) }
  }

  /// The children of a collection: a mapping's keys and values alternate.
  func children(_ index: Int) -> Children {
    Children(tree: self, following: index + 1, end: end(index))
  }

  /// A mapping's pairs or a sequence's items.
  func count(_ index: Int) -> Int {
    let children = self.children(index).reduce(0) { count, _ in count + 1 }
    return nodes[index].kind == .mapping ? children / 2 : children
  }

  /// The value under the scalar key `key` of a mapping (the first, when repeated).
  func value(_ index: Int, key: StaticString) -> Int? {
    guard nodes[index].kind == .mapping else { return nil }
    var children = children(index)
    while let keyIndex = children.next(), let valueIndex = children.next() {
      if hasText(keyIndex, key) { return valueIndex }
    }
    return nil
  }

  /// Child indices in order.
  struct Children: Sequence, IteratorProtocol {
    let tree: YAMLTree
    var following: Int
    let end: Int

    mutating func next() -> Int? {
      guard following < end else { return nil }
      defer { following = tree.end(following) }
      return following
    }
  }

  /// Adds nodes in document order; collections are opened, filled and closed.
  struct Builder {
    private(set) var nodes: [Node] = []
    private var roots: [Int] = []
    /// The source's UTF-8, read (not copied) until `finish()`; scalar texts below its count are
    /// ranges of it.
    private let source: UnsafeBufferPointer<UInt8>
    /// The texts decoded, numbered on from the source's count.
    private var decoded: [UInt8] = []

    /// A builder of nodes whose texts may be ranges of `source`, which must outlive it.
    init(source: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0), capacity: Int = 0) {
      self.source = source
      nodes.reserveCapacity(capacity)
    }

    var count: Int { nodes.count }

    /// Where the next text appended with `appendText` starts.
    var textEnd: Int { source.count + decoded.count }

    /// Whether a plain scalar's `text` is `~`, `null`, `Null`, `NULL` or empty.
    private static func isNull(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
      switch text.count {
      case 0: return true
      case 1: return text[0] == UInt8(ascii: "~")
      case 4:
        guard text[0] | 0x20 == UInt8(ascii: "n") else { return false }
        return text.sameBytes(("null" as StaticString).utf8Buffer)
          || text.sameBytes(("Null" as StaticString).utf8Buffer)
          || text.sameBytes(("NULL" as StaticString).utf8Buffer)
      default: return false
      }
    }

    /// A scalar whose text is `range`: of the source, or appended with `appendText`.
    mutating func scalar(_ range: Range<Int>, plain: Bool, line: Int, column: Int) {
      var isNull = false
      if plain {
        if range.upperBound <= source.count {
          isNull = Self.isNull(UnsafeBufferPointer(rebasing: source[range]))
        } else {
          let local = range.lowerBound - source.count..<range.upperBound - source.count
          isNull = decoded.withUnsafeBufferPointer {
            Self.isNull(UnsafeBufferPointer(rebasing: $0[local]))
          }
        }
      }
      nodes.append(
        Node(
          scalar: plain ? .plain : .quoted, isNull: isNull, text: range, line: line,
          column: column))
    }

    /// A scalar with the text `text`.
    mutating func scalar(_ text: String, plain: Bool, line: Int, column: Int) {
      let start = textEnd
      decoded += text.utf8
      scalar(start..<textEnd, plain: plain, line: line, column: column)
    }

    /// Appends bytes to the texts, for a scalar added with `scalar(_:plain:line:column:)`.
    mutating func appendText(_ bytes: some Sequence<UInt8>) { decoded += bytes }

    mutating func appendText(_ byte: UInt8) { decoded.append(byte) }

    /// Opens a collection; returns its index for `close`.
    mutating func open(_ kind: Kind, line: Int, column: Int) -> Int {
      nodes.append(Node(collection: kind, line: Int32(line), column: Int32(column)))
      return nodes.count - 1
    }

    /// Opens a mapping in front of the scalar at `index`, the last node, which is its first key.
    mutating func openMapping(before index: Int) {
      let key = nodes[index]
      nodes.insert(Node(collection: .mapping, line: key.line, column: key.column), at: index)
    }

    /// Closes the collection at `index`.
    mutating func close(_ index: Int) {
      nodes[index].offset = Int32(nodes.count)
    }

    mutating func addRoot(_ index: Int) { roots.append(index) }

    /// Appends the nodes of `other` (a builder of the same source) from `first` on, as if they
    /// had been added here, their lines moved by `lines`.
    mutating func append(_ other: Builder, from first: Int, movingLinesBy lines: Int) {
      let (nodeShift, textShift) = (Int32(nodes.count - first), Int32(decoded.count))
      let sourceCount = Int32(source.count)
      nodes.reserveCapacity(nodes.count + other.nodes.count - first)
      for var node in other.nodes[first...] {
        if !node.isScalar {
          node.offset += nodeShift
        } else if node.offset >= sourceCount && node.textCount > 0 {
          node.offset += textShift
        }
        node.line += Int32(lines)
        nodes.append(node)
      }
      decoded += other.decoded
    }

    /// The tree; the source is copied into it.
    func finish() -> YAMLTree {
      YAMLTree(nodes: nodes, roots: roots, texts: Array(source) + decoded)
    }
  }
}

extension YAMLTree: Equatable {
  /// Same documents, nodes and positions; the position of an empty plain scalar (a missing
  /// value) is not compared, as Yams places it at whatever token follows.
  static func == (left: YAMLTree, right: YAMLTree) -> Bool {
    left.roots == right.roots && left.nodes.count == right.nodes.count
      && left.nodes.indices.allSatisfy { left.sameNode($0, as: right, $0) }
  }

  /// Whether node `index` is node `other` of `tree`: kind, text, extent and position (see `==`).
  func sameNode(_ index: Int, as tree: YAMLTree, _ other: Int) -> Bool {
    let (a, b) = (nodes[index], tree.nodes[other])
    let sameText = withText(index) { a in tree.withText(other) { b in a.sameBytes(b) } }
    return a.kind == b.kind && sameText && end(index) - index == tree.end(other) - other
      && (a.kind == .plain && a.textCount == 0 || (a.line == b.line && a.column == b.column))
  }
}

extension YAMLTree {
  /// The documents of `yaml` read by the fast reader, or by Yams when it uses YAML beyond the
  /// reader's subset or is malformed (so syntax errors are Yams's, with line and column).
  static func documents(yaml: String) throws -> YAMLTree {
    if let fast = try? YAMLReader.documents(yaml) { return fast }
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
      close(index)
    case .sequence(let sequence):
      let index = open(.sequence, line: line, column: column)
      for item in sequence { add(item) }
      close(index)
    }
  }
}

extension StaticString {
  /// The UTF-8 bytes of a string literal.
  var utf8Buffer: UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: utf8Start, count: utf8CodeUnitCount)
  }
}

extension UnsafeBufferPointer<UInt8> {
  /// Whether both hold the same bytes.
  func sameBytes(_ other: UnsafeBufferPointer<UInt8>) -> Bool {
    guard count == other.count else { return false }
    // Keys and short values are compared in line; memcmp pays for longer texts.
    guard count > 16 else { return indices.allSatisfy { self[$0] == other[$0] } }
    return memcmp(baseAddress!, other.baseAddress!, count) == 0
  }
}
