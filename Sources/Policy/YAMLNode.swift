import Yams

/// A YAML node as policy reading sees it: scalars as text, mappings as ordered pairs (repeated
/// keys kept), sequences; each with the line and column (from 1, in characters) it starts at.
///
/// `YAMLReader` builds it from the common subset of YAML; Yams builds it from everything else.
struct YAMLNode: Sendable {
  enum Content: Sendable, Equatable {
    /// `plain` is false for quoted (and block) scalars: only plain ones can be null.
    case scalar(String, plain: Bool)
    case mapping([Pair])
    case sequence([YAMLNode])
  }

  /// One key and its value.
  struct Pair: Sendable, Equatable {
    var key: YAMLNode
    var value: YAMLNode
  }

  var content: Content
  var line: Int
  var column: Int

  /// A plain `~`, `null` or empty scalar.
  var isNull: Bool {
    guard case .scalar(let text, plain: true) = content else { return false }
    switch text {
    case "", "~", "null", "Null", "NULL": return true
    default: return false
    }
  }

  /// The text of a scalar.
  var text: String? {
    guard case .scalar(let text, _) = content else { return nil }
    return text
  }

  /// The value under the scalar key `key` of a mapping (the first, when repeated).
  subscript(key: String) -> YAMLNode? {
    guard case .mapping(let pairs) = content else { return nil }
    return pairs.first { $0.key.text == key }?.value
  }
}

extension YAMLNode: Equatable {
  /// Same content and position; the position of an empty plain scalar (a missing value) is
  /// not compared, as Yams places it at whatever token follows.
  static func == (left: YAMLNode, right: YAMLNode) -> Bool {
    guard left.content == right.content else { return false }
    if case .scalar("", plain: true) = left.content { return true }
    return left.line == right.line && left.column == right.column
  }
}

extension YAMLNode {
  /// The documents of `yaml` read by the fast reader, or by Yams when it uses YAML beyond the
  /// reader's subset or is malformed (so syntax errors are Yams's, with line and column).
  static func documents(yaml: String) throws -> [YAMLNode] {
    var text = yaml
    let fast = text.withUTF8 { bytes -> [YAMLNode]? in
      guard var reader = try? YAMLReader(bytes: bytes) else { return nil }
      return try? reader.documents()
    }
    if let fast { return fast }
    return try yamsDocuments(yaml: yaml)
  }

  /// The documents of `yaml` composed by Yams.
  static func yamsDocuments(yaml: String) throws -> [YAMLNode] {
    // No tag resolution: fields are read as text, and resolving every scalar by regex
    // dominated parsing (10k rules: ~0.5 s).
    let parser = try Parser(yaml: yaml, resolver: .basic)
    var documents: [YAMLNode] = []
    while let root = try parser.nextRoot() { documents.append(YAMLNode(root)) }
    return documents
  }

  /// Converts a node composed by Yams.
  init(_ node: Node) {
    let content: Content
    switch node {
    case .scalar(let scalar): content = .scalar(scalar.string, plain: scalar.style == .plain)
    case .mapping(let mapping):
      content = .mapping(mapping.map { Pair(key: YAMLNode($0), value: YAMLNode($1)) })
    case .sequence(let sequence): content = .sequence(sequence.map(YAMLNode.init))
    }
    self.init(content: content, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
  }
}
