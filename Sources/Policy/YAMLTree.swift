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
/// Nodes and texts are plain memory the tree owns (a 10k-rule policy has ~300k nodes): reading
/// them takes no reference counting.
final class YAMLTree: @unchecked Sendable {
  /// What a node is.
  enum Kind: UInt8, Sendable {
    /// A plain scalar: the only kind that can be null.
    case plain
    /// A quoted (or block) scalar.
    case quoted
    case mapping
    case sequence
  }

  /// One node, in 16 bytes: a scalar's subtree is itself, and a collection has no text.
  struct Node: Sendable {
    /// The kind in bits 0-1, whether the scalar is null in bit 2, its text's length above.
    private var bits: UInt32
    /// A scalar's text start in the tree's texts; where a collection's subtree ends.
    fileprivate var offset: Int32
    var line: Int32
    var column: Int32

    /// A scalar whose text is `text` of the tree's texts.
    @inline(__always)
    fileprivate init(scalar kind: Kind, isNull: Bool, text: Range<Int>, line: Int, column: Int) {
      bits = UInt32(kind.rawValue) | (isNull ? 4 : 0) | UInt32(truncatingIfNeeded: text.count) &<< 3
      offset = Int32(truncatingIfNeeded: text.lowerBound)
      self.line = Int32(truncatingIfNeeded: line)
      self.column = Int32(truncatingIfNeeded: column)
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

  /// The nodes, in document order.
  let nodes: UnsafeBufferPointer<Node>
  /// Each document's root node, in order.
  let roots: [Int]
  /// The texts of the scalars.
  private let texts: UnsafeBufferPointer<UInt8>

  /// A tree taking ownership of `nodes` and `texts`, allocated with `malloc`.
  fileprivate init(
    nodes: UnsafeBufferPointer<Node>, roots: [Int], texts: UnsafeBufferPointer<UInt8>
  ) {
    self.nodes = nodes
    self.roots = roots
    self.texts = texts
  }

  deinit {
    free(UnsafeMutableRawPointer(mutating: nodes.baseAddress))
    free(UnsafeMutableRawPointer(mutating: texts.baseAddress))
  }

  /// The UTF-8 text of a scalar (empty for a collection), passed to `body`.
  @inline(__always)
  func withText<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
    body(text(of: nodes[index]))
  }

  private func text(of node: Node) -> UnsafeBufferPointer<UInt8> {
    guard node.textCount > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
    return UnsafeBufferPointer(rebasing: texts[node.textStart..<node.textStart + node.textCount])
  }

  /// Where the subtree of node `index` ends.
  @inline(__always)
  func end(_ index: Int) -> Int {
    let node = nodes[index]
    return node.isScalar ? index + 1 : Int(node.offset)
  }

  /// Whether node `index` is a scalar whose text is `text`.
  @inline(__always)
  func hasText(_ index: Int, _ text: StaticString) -> Bool {
    let node = nodes[index]
    guard node.isScalar, node.textCount == text.utf8CodeUnitCount else { return false }
    return self.text(of: node).sameBytes(text.utf8Buffer)
  }

  /// A plain `~`, `null` or empty scalar.
  func isNull(_ index: Int) -> Bool { nodes[index].isNull }

  /// The text of a scalar; nil for a collection.
  func text(_ index: Int) -> String? {
    let node = nodes[index]
    guard node.kind == .plain || node.kind == .quoted else { return nil }
    return String(decoding: text(of: node), as: UTF8.self)
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

    @inline(__always)
    mutating func next() -> Int? {
      guard following < end else { return nil }
      defer { following = tree.end(following) }
      return following
    }
  }

  /// Adds nodes in document order; collections are opened, filled and closed. Used by one
  /// thread at a time.
  final class Builder {
    /// The nodes so far (`count` of `capacity`), in memory of `malloc`.
    @exclusivity(unchecked) private var storage: UnsafeMutablePointer<Node>?
    @exclusivity(unchecked) private(set) var count = 0
    @exclusivity(unchecked) private var capacity = 0
    @exclusivity(unchecked) private var roots: [Int] = []
    /// The source's UTF-8, read (not copied) until `finish()`; scalar texts below its count are
    /// ranges of it.
    private let source: UnsafeBufferPointer<UInt8>
    /// The texts decoded, numbered on from the source's count.
    @exclusivity(unchecked) private var decoded: [UInt8] = []

    /// A builder of nodes whose texts may be ranges of `source`, which must outlive it.
    init(source: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0), capacity: Int = 0) {
      self.source = source
      // A node takes two bytes of text at the least, ~6 in policies: reserving too much only
      // reserves address space; growing moves the nodes.
      grow(to: max(capacity, 16))
    }

    deinit { free(storage) }

    /// The nodes so far.
    var nodes: UnsafeBufferPointer<Node> { UnsafeBufferPointer(start: storage, count: count) }

    /// Where the next text appended with `appendText` starts.
    var textEnd: Int { source.count + decoded.count }

    private func grow(to wanted: Int) {
      guard
        let grown = realloc(storage, wanted * MemoryLayout<Node>.stride)?.bindMemory(
          to: Node.self, capacity: wanted)
      else { fatalError("out of memory for \(wanted) YAML nodes") }
      storage = grown
      capacity = wanted
    }

    @inline(__always)
    private func add(_ node: Node) {
      if count == capacity { grow(to: 2 * capacity) }
      storage.unsafelyUnwrapped[count] = node
      count += 1
    }

    /// Whether a plain scalar's `text` is `~`, `null`, `Null`, `NULL` or empty.
    @inline(__always)
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
    @inline(__always)
    func scalar(_ range: Range<Int>, plain: Bool, line: Int, column: Int) {
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
      add(
        Node(
          scalar: plain ? .plain : .quoted, isNull: isNull, text: range, line: line,
          column: column))
    }

    /// A scalar with the text `text`.
    func scalar(_ text: String, plain: Bool, line: Int, column: Int) {
      let start = textEnd
      decoded += text.utf8
      scalar(start..<textEnd, plain: plain, line: line, column: column)
    }

    /// Appends bytes to the texts, for a scalar added with `scalar(_:plain:line:column:)`.
    func appendText(_ bytes: some Sequence<UInt8>) { decoded += bytes }

    func appendText(_ byte: UInt8) { decoded.append(byte) }

    /// Opens a collection; returns its index for `close`.
    func open(_ kind: Kind, line: Int, column: Int) -> Int {
      add(
        Node(
          collection: kind, line: Int32(truncatingIfNeeded: line),
          column: Int32(truncatingIfNeeded: column)))
      return count - 1
    }

    /// Opens a mapping in front of the scalar at `index`, the last node, which is its first key.
    func openMapping(before index: Int) {
      precondition(index == count - 1, "a mapping opens before the last node")
      let key = storage.unsafelyUnwrapped[index]
      add(key)
      storage.unsafelyUnwrapped[index] = Node(
        collection: .mapping, line: key.line, column: key.column)
    }

    /// Closes the collection at `index`.
    func close(_ index: Int) {
      storage.unsafelyUnwrapped[index].offset = Int32(truncatingIfNeeded: count)
    }

    func addRoot(_ index: Int) { roots.append(index) }

    /// Appends the nodes of `other` (a builder of the same source) from `first` on, as if they
    /// had been added here, their lines moved by `lines`.
    func append(_ other: Builder, from first: Int, movingLinesBy lines: Int) {
      let (nodeShift, textShift) = (Int32(count - first), Int32(decoded.count))
      let sourceCount = Int32(source.count)
      let added = other.count - first
      if count + added > capacity { grow(to: count + added) }
      let target = storage.unsafelyUnwrapped + count
      for (position, var node) in other.nodes[first...].enumerated() {
        if !node.isScalar {
          node.offset += nodeShift
        } else if node.offset >= sourceCount && node.textCount > 0 {
          node.offset += textShift
        }
        node.line += Int32(lines)
        target[position] = node
      }
      count += added
      decoded += other.decoded
    }

    /// The tree, which takes the nodes; the source is copied into it. The builder is spent.
    func finish() -> YAMLTree {
      let textCount = source.count + decoded.count
      let texts = malloc(max(textCount, 1))!.bindMemory(to: UInt8.self, capacity: textCount)
      if let base = source.baseAddress { texts.update(from: base, count: source.count) }
      decoded.withUnsafeBufferPointer { decoded in
        if let base = decoded.baseAddress {
          (texts + source.count).update(from: base, count: decoded.count)
        }
      }
      let tree = YAMLTree(
        nodes: UnsafeBufferPointer(start: storage, count: count), roots: roots,
        texts: UnsafeBufferPointer(start: texts, count: textCount))
      (storage, count, capacity) = (nil, 0, 0)
      return tree
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
    let builder = Builder()
    while let root = try parser.nextRoot() {
      builder.addRoot(builder.count)
      builder.add(root)
    }
    return builder.finish()
  }
}

extension YAMLTree.Builder {
  /// Adds a node composed by Yams, and its subtree.
  fileprivate func add(_ node: Yams.Node) {
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
